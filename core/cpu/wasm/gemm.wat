;; GEMM for float32 with WebAssembly SIMD: C[i, j] = sum_k A[i, k] B[k, j] for rows i in [i0, i1).
;;
;; The same Goto/BLIS blocking as the JavaScript gemm (../gemm.ts), with 128-bit vectors:
;;
;;   for jc in steps of NC:                 columns of C and B
;;     for pc in steps of KC:               the shared dimension
;;       pack B[pc:pc+kc, jc:jc+nc]         into panels of 8 columns (KC x 8 each, 8 KiB: stays in L1)
;;       for ic in steps of MC:             rows of C and A
;;         pack A[ic:ic+mc, pc:pc+kc]       into panels of 4 rows (the MC x KC block stays in L2)
;;         for each 8-column panel of B, for each 4-row panel of A:
;;           micro-kernel: C[4 x 8 tile] (+)= A panel x B panel
;;
;; Packing copies the operands into the order the micro-kernel reads them, k-major and zero-padded to
;; whole panels, so the hot loop reads two consecutive streams and never looks at a stride. That is
;; also why transposed operands are free: only the packing loops see (row stride, column stride).
;;
;; The micro-kernel keeps a 4 x 8 tile of C in eight f32x4 registers. Per step k it loads B[k, 0:8]
;; as two vectors, and for each of the 4 rows broadcasts A[r, k] into all four lanes
;; (v128.load32_splat, a single vbroadcastss on x86) and does two multiply-adds. Accumulation is in
;; float32, as in every BLAS: in order of k within a KC block, each block's sum then added to C.
;;
;; Why 4 x 8: the loop needs 8 accumulators + 2 B vectors + 1 broadcast + 1 product = 12 live
;; vectors, and V8 gives wasm 15 xmm registers (xmm15 is its scratch); 6 x 8 would need 16, one more
;; than there are. Measured on one Zen 4 core (node 20), GFLOP/s at n = 512: 4x8 40, 2x16 40, 3x8
;; 37, 4x16 30, 4x12 28, 6x8 27, 8x8 22; unrolling the k loop by two made 4x8 slower (27). There is
;; no fused multiply-add in plain SIMD (relaxed SIMD has one, but not by default in node 20); on Zen
;; 4 multiplies and adds issue on separate pipes, so little is lost.
;;
;; Calling convention: pointers are byte addresses into the imported (shared) memory, strides are in
;; elements, C is row-major with N columns. `work` points at scratch_bytes() of this thread's own
;; scratch space (packed A, packed B, one edge tile); threads must not share it.
;;
;; Build: node core/cpu/wasm/build.mjs (npm install and npm test run it) writes gemm.wasm beside this.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Block sizes in elements. MC is a multiple of 4 (MR), NC of 8 (NR).
  (global $KC i32 (i32.const 256))
  (global $MC i32 (i32.const 128))
  (global $NC i32 (i32.const 1024))

  ;; Scratch per thread: packed A (MC x KC), packed B (KC x NC), one 4 x 8 edge tile; in bytes.
  (func (export "scratch_bytes") (result i32)
    (i32.mul (i32.const 4)
      (i32.add (i32.mul (global.get $MC) (global.get $KC))
        (i32.add (i32.mul (global.get $KC) (global.get $NC)) (i32.const 32)))))

  ;; The micro-kernel: the 4 x 8 tile at $c (rows $ldc bytes apart) gets A panel x B panel, added to
  ;; what is there if $accumulate, else stored. $pa: kc steps of 4 floats, $pb: kc steps of 8 floats.
  ;; $cR_lo and $cR_hi hold row R of the tile, columns 0-3 and 4-7.
  (func $micro (param $pa i32) (param $pb i32) (param $kc i32) (param $c i32) (param $ldc i32) (param $accumulate i32)
    (local $end i32) (local $a v128) (local $b_lo v128) (local $b_hi v128)
    (local $c0_lo v128) (local $c0_hi v128) (local $c1_lo v128) (local $c1_hi v128)
    (local $c2_lo v128) (local $c2_hi v128) (local $c3_lo v128) (local $c3_hi v128)
    (local.set $end (i32.add (local.get $pa) (i32.shl (local.get $kc) (i32.const 4)))) ;; 16 bytes of A per k
    (loop $k
      (local.set $b_lo (v128.load (local.get $pb)))
      (local.set $b_hi (v128.load offset=16 (local.get $pb)))
      ;; row 0: A[0, k] in every lane, times B[k, 0:4] and B[k, 4:8]
      (local.set $a (v128.load32_splat (local.get $pa)))
      (local.set $c0_lo (f32x4.add (local.get $c0_lo) (f32x4.mul (local.get $a) (local.get $b_lo))))
      (local.set $c0_hi (f32x4.add (local.get $c0_hi) (f32x4.mul (local.get $a) (local.get $b_hi))))
      (local.set $a (v128.load32_splat offset=4 (local.get $pa)))
      (local.set $c1_lo (f32x4.add (local.get $c1_lo) (f32x4.mul (local.get $a) (local.get $b_lo))))
      (local.set $c1_hi (f32x4.add (local.get $c1_hi) (f32x4.mul (local.get $a) (local.get $b_hi))))
      (local.set $a (v128.load32_splat offset=8 (local.get $pa)))
      (local.set $c2_lo (f32x4.add (local.get $c2_lo) (f32x4.mul (local.get $a) (local.get $b_lo))))
      (local.set $c2_hi (f32x4.add (local.get $c2_hi) (f32x4.mul (local.get $a) (local.get $b_hi))))
      (local.set $a (v128.load32_splat offset=12 (local.get $pa)))
      (local.set $c3_lo (f32x4.add (local.get $c3_lo) (f32x4.mul (local.get $a) (local.get $b_lo))))
      (local.set $c3_hi (f32x4.add (local.get $c3_hi) (f32x4.mul (local.get $a) (local.get $b_hi))))
      (local.set $pa (i32.add (local.get $pa) (i32.const 16)))
      (local.set $pb (i32.add (local.get $pb) (i32.const 32)))
      (br_if $k (i32.lt_u (local.get $pa) (local.get $end))))
    (if (local.get $accumulate)
      (then
        (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $c0_lo)))
        (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c0_hi)))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $c1_lo)))
        (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c1_hi)))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $c2_lo)))
        (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c2_hi)))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $c3_lo)))
        (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c3_hi))))
      (else
        (v128.store (local.get $c) (local.get $c0_lo))
        (v128.store offset=16 (local.get $c) (local.get $c0_hi))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (local.get $c1_lo))
        (v128.store offset=16 (local.get $c) (local.get $c1_hi))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (local.get $c2_lo))
        (v128.store offset=16 (local.get $c) (local.get $c2_hi))
        (local.set $c (i32.add (local.get $c) (local.get $ldc)))
        (v128.store (local.get $c) (local.get $c3_lo))
        (v128.store offset=16 (local.get $c) (local.get $c3_hi)))))

  ;; Pack B[0:kc, 0:nc] (at $b, strides in bytes) into panels of 8 columns, each k-major:
  ;; panel p, step k holds B[k, 8p : 8p + 8], zeros past column nc. Panels follow each other at $dst.
  (func $pack_b (param $b i32) (param $brs i32) (param $bcs i32) (param $kc i32) (param $nc i32) (param $dst i32)
    (local $j i32) (local $w i32) (local $k i32) (local $src i32) (local $col i32)
    (loop $panel
      (local.set $w (i32.sub (local.get $nc) (local.get $j))) ;; columns left, 8 at most in this panel
      (local.set $src (i32.add (local.get $b) (i32.mul (local.get $j) (local.get $bcs))))
      (local.set $k (i32.const 0))
      (if (i32.and (i32.ge_s (local.get $w) (i32.const 8)) (i32.eq (local.get $bcs) (i32.const 4)))
        (then ;; 8 adjacent columns: copy each row as two vectors
          (loop $row
            (v128.store (local.get $dst) (v128.load (local.get $src)))
            (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $src)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (local.set $src (i32.add (local.get $src) (local.get $brs)))
            (br_if $row (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (local.get $kc)))))
        (else ;; strided columns (B transposed) or the last, partial panel: one float at a time
          (loop $row
            (local.set $col (i32.const 0))
            (loop $cols
              (f32.store (i32.add (local.get $dst) (i32.shl (local.get $col) (i32.const 2)))
                (if (result f32) (i32.lt_s (local.get $col) (local.get $w))
                  (then (f32.load (i32.add (local.get $src) (i32.mul (local.get $col) (local.get $bcs)))))
                  (else (f32.const 0))))
              (br_if $cols (i32.lt_u (local.tee $col (i32.add (local.get $col) (i32.const 1))) (i32.const 8))))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (local.set $src (i32.add (local.get $src) (local.get $brs)))
            (br_if $row (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (local.get $kc))))))
      (br_if $panel (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 8))) (local.get $nc)))))

  ;; Pack A[0:mc, 0:kc] (at $a, strides in bytes) into panels of 4 rows, each k-major:
  ;; panel p, step k holds A[4p : 4p + 4, k], zeros past row mc. Panels follow each other at $dst.
  (func $pack_a (param $a i32) (param $ars i32) (param $acs i32) (param $mc i32) (param $kc i32) (param $dst i32)
    (local $i i32) (local $r i32) (local $k i32) (local $src i32) (local $d i32)
    (loop $panel
      (local.set $r (i32.const 0))
      (loop $row ;; row i + r of A goes to every fourth float of the panel, starting at float r
        (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $r) (i32.const 2))))
        (local.set $k (i32.const 0))
        (if (i32.lt_s (i32.add (local.get $i) (local.get $r)) (local.get $mc))
          (then
            (local.set $src (i32.add (local.get $a) (i32.mul (i32.add (local.get $i) (local.get $r)) (local.get $ars))))
            (loop $step
              (f32.store (local.get $d) (f32.load (local.get $src)))
              (local.set $src (i32.add (local.get $src) (local.get $acs)))
              (local.set $d (i32.add (local.get $d) (i32.const 16)))
              (br_if $step (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (local.get $kc)))))
          (else
            (loop $step
              (f32.store (local.get $d) (f32.const 0))
              (local.set $d (i32.add (local.get $d) (i32.const 16)))
              (br_if $step (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 1))) (local.get $kc))))))
        (br_if $row (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (i32.const 4))))
      (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $kc) (i32.const 4)))) ;; kc x 4 floats
      (br_if $panel (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 4))) (local.get $mc)))))

  ;; C[i, :] = sum_k A[i, k] B[k, :] for i in [i0, i1). A and B are read through (row, column) strides.
  (func (export "gemm")
    (param $a i32) (param $ars i32) (param $acs i32)
    (param $b i32) (param $brs i32) (param $bcs i32)
    (param $c i32) (param $N i32) (param $K i32) (param $i0 i32) (param $i1 i32) (param $work i32)
    (local $ap i32) (local $bp i32) (local $edge i32) (local $ldc i32)
    (local $jc i32) (local $nc i32) (local $pc i32) (local $kc i32) (local $ic i32) (local $mc i32)
    (local $jr i32) (local $ir i32) (local $h i32) (local $w i32) (local $tile i32) (local $pa i32) (local $pb i32)
    (local $r i32) (local $x i32) (local $dst i32) (local $src i32)
    (if (i32.or (i32.ge_s (local.get $i0) (local.get $i1)) (i32.eqz (local.get $N))) (then (return)))
    (local.set $ldc (i32.shl (local.get $N) (i32.const 2)))
    (if (i32.eqz (local.get $K)) (then ;; an empty sum: zeros
      (memory.fill (i32.add (local.get $c) (i32.mul (local.get $i0) (local.get $ldc))) (i32.const 0)
        (i32.mul (i32.sub (local.get $i1) (local.get $i0)) (local.get $ldc)))
      (return)))
    ;; strides to bytes; carve the scratch space
    (local.set $ars (i32.shl (local.get $ars) (i32.const 2)))
    (local.set $acs (i32.shl (local.get $acs) (i32.const 2)))
    (local.set $brs (i32.shl (local.get $brs) (i32.const 2)))
    (local.set $bcs (i32.shl (local.get $bcs) (i32.const 2)))
    (local.set $ap (local.get $work))
    (local.set $bp (i32.add (local.get $ap) (i32.mul (i32.mul (global.get $MC) (global.get $KC)) (i32.const 4))))
    (local.set $edge (i32.add (local.get $bp) (i32.mul (i32.mul (global.get $KC) (global.get $NC)) (i32.const 4))))
    (loop $jc_loop
      (local.set $nc (select (global.get $NC) (i32.sub (local.get $N) (local.get $jc))
        (i32.gt_s (i32.sub (local.get $N) (local.get $jc)) (global.get $NC))))
      (local.set $pc (i32.const 0))
      (loop $pc_loop
        (local.set $kc (select (global.get $KC) (i32.sub (local.get $K) (local.get $pc))
          (i32.gt_s (i32.sub (local.get $K) (local.get $pc)) (global.get $KC))))
        (call $pack_b
          (i32.add (local.get $b) (i32.add (i32.mul (local.get $pc) (local.get $brs)) (i32.mul (local.get $jc) (local.get $bcs))))
          (local.get $brs) (local.get $bcs) (local.get $kc) (local.get $nc) (local.get $bp))
        (local.set $ic (local.get $i0))
        (loop $ic_loop
          (local.set $mc (select (global.get $MC) (i32.sub (local.get $i1) (local.get $ic))
            (i32.gt_s (i32.sub (local.get $i1) (local.get $ic)) (global.get $MC))))
          (call $pack_a
            (i32.add (local.get $a) (i32.add (i32.mul (local.get $ic) (local.get $ars)) (i32.mul (local.get $pc) (local.get $acs))))
            (local.get $ars) (local.get $acs) (local.get $mc) (local.get $kc) (local.get $ap))
          ;; every 8-column panel of B (kept in L1) against every 4-row panel of A
          (local.set $jr (i32.const 0))
          (loop $jr_loop
            (local.set $w (select (i32.const 8) (i32.sub (local.get $nc) (local.get $jr))
              (i32.gt_s (i32.sub (local.get $nc) (local.get $jr)) (i32.const 8))))
            (local.set $pb (i32.add (local.get $bp) (i32.shl (i32.mul (local.get $jr) (local.get $kc)) (i32.const 2))))
            (local.set $ir (i32.const 0))
            (loop $ir_loop
              (local.set $h (select (i32.const 4) (i32.sub (local.get $mc) (local.get $ir))
                (i32.gt_s (i32.sub (local.get $mc) (local.get $ir)) (i32.const 4))))
              (local.set $pa (i32.add (local.get $ap) (i32.shl (i32.mul (local.get $ir) (local.get $kc)) (i32.const 2))))
              (local.set $tile (i32.add (local.get $c)
                (i32.add (i32.mul (i32.add (local.get $ic) (local.get $ir)) (local.get $ldc))
                  (i32.shl (i32.add (local.get $jc) (local.get $jr)) (i32.const 2)))))
              (if (i32.and (i32.eq (local.get $h) (i32.const 4)) (i32.eq (local.get $w) (i32.const 8)))
                (then ;; a whole tile: straight into C; the first K block stores, later ones add
                  (call $micro (local.get $pa) (local.get $pb) (local.get $kc) (local.get $tile) (local.get $ldc)
                    (local.get $pc)))
                (else ;; a tile cut by the edge of C: compute all of it into $edge, copy the h x w corner
                  (call $micro (local.get $pa) (local.get $pb) (local.get $kc) (local.get $edge) (i32.const 32) (i32.const 0))
                  (local.set $r (i32.const 0))
                  (loop $edge_rows
                    (local.set $x (i32.const 0))
                    (loop $edge_cols
                      (local.set $dst (i32.add (local.get $tile)
                        (i32.add (i32.mul (local.get $r) (local.get $ldc)) (i32.shl (local.get $x) (i32.const 2)))))
                      (local.set $src (i32.add (local.get $edge)
                        (i32.shl (i32.add (i32.shl (local.get $r) (i32.const 3)) (local.get $x)) (i32.const 2))))
                      (f32.store (local.get $dst)
                        (if (result f32) (local.get $pc)
                          (then (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
                          (else (f32.load (local.get $src)))))
                      (br_if $edge_cols (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 1))) (local.get $w))))
                    (br_if $edge_rows (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $h))))))
              (br_if $ir_loop (i32.lt_u (local.tee $ir (i32.add (local.get $ir) (i32.const 4))) (local.get $mc))))
            (br_if $jr_loop (i32.lt_u (local.tee $jr (i32.add (local.get $jr) (i32.const 8))) (local.get $nc))))
          (br_if $ic_loop (i32.lt_s (local.tee $ic (i32.add (local.get $ic) (global.get $MC))) (local.get $i1))))
        (br_if $pc_loop (i32.lt_s (local.tee $pc (i32.add (local.get $pc) (global.get $KC))) (local.get $K))))
      (br_if $jc_loop (i32.lt_s (local.tee $jc (i32.add (local.get $jc) (global.get $NC))) (local.get $N)))))
)
