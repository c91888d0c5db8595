;; GEMM for float32 with WebAssembly SIMD: C[i, j] = sum_k A[i, k] B[k, j] for rows i in [i0, i1);
;; and a 2-D convolution (conv2d, further down) that is this GEMM with im2col fused into its packing,
;; and that convolution's weight gradient (conv2d_wgrad), the columns again packed from the image;
;; BatchNorm's per-channel loops (ch_sum, ch_sqdev, ch_gsums, ch_map); and, at the end, fold's sums (fold_runs).
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
  ;; conv2d's K block: the whole of C KH KW up to this (a 3x3 conv of up to 56 channels in one), so
  ;; that y is written once; its packed B panel (KC2 x 8) is 16 KiB and its W block (MC x KC2) 256 KiB.
  ;; Both fit in the scratch that the GEMM's packed B (KC x NC) needs anyway.
  (global $KC2 i32 (i32.const 512))

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

  ;; One h x w tile of C (h <= 4, w <= 8) at $c, rows $ldc bytes apart: a whole tile goes straight
  ;; into C; a tile cut by the edge of C is computed whole into $edge (4 x 8 floats), then its h x w
  ;; corner is copied out. Added to what C holds if $accumulate, else stored.
  (func $tile (param $pa i32) (param $pb i32) (param $kc i32) (param $c i32) (param $ldc i32)
    (param $h i32) (param $w i32) (param $accumulate i32) (param $edge i32)
    (local $r i32) (local $x i32) (local $dst i32) (local $src i32)
    (if (i32.and (i32.eq (local.get $h) (i32.const 4)) (i32.eq (local.get $w) (i32.const 8)))
      (then (call $micro (local.get $pa) (local.get $pb) (local.get $kc) (local.get $c) (local.get $ldc) (local.get $accumulate))
        (return)))
    (call $micro (local.get $pa) (local.get $pb) (local.get $kc) (local.get $edge) (i32.const 32) (i32.const 0))
    (loop $rows
      (local.set $x (i32.const 0))
      (loop $cols
        (local.set $dst (i32.add (local.get $c)
          (i32.add (i32.mul (local.get $r) (local.get $ldc)) (i32.shl (local.get $x) (i32.const 2)))))
        (local.set $src (i32.add (local.get $edge)
          (i32.shl (i32.add (i32.shl (local.get $r) (i32.const 3)) (local.get $x)) (i32.const 2))))
        (f32.store (local.get $dst)
          (if (result f32) (local.get $accumulate)
            (then (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
            (else (f32.load (local.get $src)))))
        (br_if $cols (i32.lt_u (local.tee $x (i32.add (local.get $x) (i32.const 1))) (local.get $w))))
      (br_if $rows (i32.lt_u (local.tee $r (i32.add (local.get $r) (i32.const 1))) (local.get $h)))))

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
              (call $tile (local.get $pa) (local.get $pb) (local.get $kc) (local.get $tile) (local.get $ldc)
                (local.get $h) (local.get $w) (local.get $pc) (local.get $edge))
              (br_if $ir_loop (i32.lt_u (local.tee $ir (i32.add (local.get $ir) (i32.const 4))) (local.get $mc))))
            (br_if $jr_loop (i32.lt_u (local.tee $jr (i32.add (local.get $jr) (i32.const 8))) (local.get $nc))))
          (br_if $ic_loop (i32.lt_s (local.tee $ic (i32.add (local.get $ic) (global.get $MC))) (local.get $i1))))
        (br_if $pc_loop (i32.lt_s (local.tee $pc (i32.add (local.get $pc) (global.get $KC))) (local.get $K))))
      (br_if $jc_loop (i32.lt_s (local.tee $jc (i32.add (local.get $jc) (global.get $NC))) (local.get $N)))))
  ;; ---------------------------------------------------------------------------------------------
  ;; 2-D convolution, channels first, one group: y[o, l] = sum_k W[o, k] cols[k, l], the same GEMM
  ;; with A = the weights [O, C KH KW] and B = the im2col columns of one image, never built whole:
  ;; each 8-column panel of B is packed straight from the image (pack_im2col) just before the
  ;; micro-kernel uses it, so it stays in L1, and y comes out as [O, OH OW], the NCHW layout.
  ;;
  ;; Geometry: 14 i32 at $geo: C H W O KH KW, stride (sh sw), padding before (ph pw), dilation
  ;; (dh dw), OH OW. Row k of B is (c, kh, kw) = k / (KH KW), (k / KW) % KH, k % KW; column l is
  ;; the output position (oh, ow) = l / OW, l % OW; entry x[c, oh sh - ph + kh dh, ow sw - pw + kw dw],
  ;; zero outside the image.

  ;; Pack rows [k0, k0 + kc) of columns [l, l + nw) (nw <= 8) of B into one panel at $dst, k-major,
  ;; zeros past column nw. $x is the image [C, H, W]; $scr holds 16 i32 of scratch.
  ;; Fast path (stride 1 along W, all 8 columns in one output row): each row of the panel is 8
  ;; adjacent floats of one image row, two vector copies, or zeros when that image row is padding.
  (func $pack_im2col (param $x i32) (param $geo i32) (param $k0 i32) (param $kc i32) (param $l i32)
    (param $nw i32) (param $dst i32) (param $scr i32)
    (local $H i32) (local $W i32) (local $KH i32) (local $KW i32) (local $sh i32) (local $sw i32)
    (local $ph i32) (local $pw i32) (local $dh i32) (local $dw i32) (local $OW i32)
    (local $kh i32) (local $kw i32) (local $xc i32) (local $plane i32) (local $end i32)
    (local $oh i32) (local $ow i32) (local $fast i32) (local $ih i32) (local $iw i32) (local $j i32)
    (local $src i32)
    (local.set $H (i32.load offset=4 (local.get $geo)))
    (local.set $W (i32.load offset=8 (local.get $geo)))
    (local.set $KH (i32.load offset=16 (local.get $geo)))
    (local.set $KW (i32.load offset=20 (local.get $geo)))
    (local.set $sh (i32.load offset=24 (local.get $geo)))
    (local.set $sw (i32.load offset=28 (local.get $geo)))
    (local.set $ph (i32.load offset=32 (local.get $geo)))
    (local.set $pw (i32.load offset=36 (local.get $geo)))
    (local.set $dh (i32.load offset=40 (local.get $geo)))
    (local.set $dw (i32.load offset=44 (local.get $geo)))
    (local.set $OW (i32.load offset=52 (local.get $geo)))
    (local.set $plane (i32.shl (i32.mul (local.get $H) (local.get $W)) (i32.const 2)))
    ;; where row k0 starts: channel, kernel row and column
    (local.set $xc (i32.add (local.get $x)
      (i32.mul (i32.div_u (local.get $k0) (i32.mul (local.get $KH) (local.get $KW))) (local.get $plane))))
    (local.set $kw (i32.rem_u (local.get $k0) (local.get $KW)))
    (local.set $kh (i32.rem_u (i32.div_u (local.get $k0) (local.get $KW)) (local.get $KH)))
    (local.set $oh (i32.div_u (local.get $l) (local.get $OW)))
    (local.set $ow (i32.rem_u (local.get $l) (local.get $OW)))
    (local.set $fast (i32.and (i32.and (i32.eq (local.get $nw) (i32.const 8)) (i32.eq (local.get $sw) (i32.const 1)))
      (i32.le_u (i32.add (local.get $ow) (i32.const 8)) (local.get $OW))))
    (if (i32.eqz (local.get $fast))
      (then ;; per column j: scr[j] = its first image row oh sh - ph, scr[8 + j] = its first image column
        (loop $col
          (if (i32.lt_u (local.get $j) (local.get $nw))
            (then
              (i32.store (i32.add (local.get $scr) (i32.shl (local.get $j) (i32.const 2)))
                (i32.sub (i32.mul (local.get $oh) (local.get $sh)) (local.get $ph)))
              (i32.store offset=32 (i32.add (local.get $scr) (i32.shl (local.get $j) (i32.const 2)))
                (i32.sub (i32.mul (local.get $ow) (local.get $sw)) (local.get $pw))))
            (else ;; past the last column: a row far below the image, so always padding
              (i32.store (i32.add (local.get $scr) (i32.shl (local.get $j) (i32.const 2))) (i32.const 0x3fffffff))))
          (if (i32.eq (local.tee $ow (i32.add (local.get $ow) (i32.const 1))) (local.get $OW))
            (then (local.set $ow (i32.const 0)) (local.set $oh (i32.add (local.get $oh) (i32.const 1)))))
          (br_if $col (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (i32.const 8))))
        (local.set $oh (i32.div_u (local.get $l) (local.get $OW)))
        (local.set $ow (i32.rem_u (local.get $l) (local.get $OW)))))
    ;; image coordinates of the panel's first column at kernel offset (0, 0)
    (local.set $oh (i32.sub (i32.mul (local.get $oh) (local.get $sh)) (local.get $ph)))
    (local.set $ow (i32.sub (local.get $ow) (local.get $pw))) ;; used by the fast path only (sw = 1)
    (local.set $end (i32.add (local.get $dst) (i32.shl (local.get $kc) (i32.const 5)))) ;; 32 bytes a row
    (loop $row
      (if (local.get $fast)
        (then
          (local.set $ih (i32.add (local.get $oh) (i32.mul (local.get $kh) (local.get $dh))))
          (local.set $iw (i32.add (local.get $ow) (i32.mul (local.get $kw) (local.get $dw))))
          (if (i32.ge_u (local.get $ih) (local.get $H)) ;; unsigned: negative rows too
            (then
              (v128.store (local.get $dst) (v128.const i32x4 0 0 0 0))
              (v128.store offset=16 (local.get $dst) (v128.const i32x4 0 0 0 0)))
            (else
              (local.set $src (i32.add (local.get $xc)
                (i32.shl (i32.add (i32.mul (local.get $ih) (local.get $W)) (local.get $iw)) (i32.const 2))))
              (if (i32.and (i32.ge_s (local.get $iw) (i32.const 0))
                    (i32.le_s (i32.add (local.get $iw) (i32.const 8)) (local.get $W)))
                (then
                  (v128.store (local.get $dst) (v128.load (local.get $src)))
                  (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $src))))
                (else ;; the row runs off the image's left or right edge
                  (local.set $j (i32.const 0))
                  (loop $col
                    (f32.store (i32.add (local.get $dst) (i32.shl (local.get $j) (i32.const 2)))
                      (if (result f32) (i32.lt_u (i32.add (local.get $iw) (local.get $j)) (local.get $W))
                        (then (f32.load (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 2)))))
                        (else (f32.const 0))))
                    (br_if $col (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (i32.const 8)))))))))
        (else ;; any geometry: column by column from scr
          (local.set $j (i32.const 0))
          (loop $col
            (local.set $ih (i32.add (i32.load (i32.add (local.get $scr) (i32.shl (local.get $j) (i32.const 2))))
              (i32.mul (local.get $kh) (local.get $dh))))
            (local.set $iw (i32.add (i32.load offset=32 (i32.add (local.get $scr) (i32.shl (local.get $j) (i32.const 2))))
              (i32.mul (local.get $kw) (local.get $dw))))
            (f32.store (i32.add (local.get $dst) (i32.shl (local.get $j) (i32.const 2)))
              (if (result f32) (i32.and (i32.lt_u (local.get $ih) (local.get $H)) (i32.lt_u (local.get $iw) (local.get $W)))
                (then (f32.load (i32.add (local.get $xc)
                  (i32.shl (i32.add (i32.mul (local.get $ih) (local.get $W)) (local.get $iw)) (i32.const 2)))))
                (else (f32.const 0))))
            (br_if $col (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (i32.const 8))))))
      ;; next row of B: kernel column, then kernel row, then channel
      (if (i32.eq (local.tee $kw (i32.add (local.get $kw) (i32.const 1))) (local.get $KW))
        (then
          (local.set $kw (i32.const 0))
          (if (i32.eq (local.tee $kh (i32.add (local.get $kh) (i32.const 1))) (local.get $KH))
            (then
              (local.set $kh (i32.const 0))
              (local.set $xc (i32.add (local.get $xc) (local.get $plane)))))))
      (br_if $row (i32.lt_u (local.tee $dst (i32.add (local.get $dst) (i32.const 32))) (local.get $end)))))

  ;; y[:, l0:l1] of one image: $x [C, H, W], $wt [O, C KH KW], $y [O, OH OW]. Blocks: K in KC2-sized
  ;; pieces (as even as can be, one piece up to KC2), rows of W in MC blocks (packed as pack_a does),
  ;; then for each 8-column panel of the range, pack it and run every 4-row panel of the block on it.
  (func (export "conv2d") (param $x i32) (param $wt i32) (param $y i32) (param $geo i32)
    (param $l0 i32) (param $l1 i32) (param $work i32)
    (local $O i32) (local $K i32) (local $ldc i32) (local $kcmax i32) (local $ap i32) (local $bp i32)
    (local $edge i32) (local $scr i32) (local $pc i32) (local $kc i32) (local $ic i32) (local $mc i32)
    (local $l i32) (local $nw i32) (local $ir i32)
    (local.set $O (i32.load offset=12 (local.get $geo)))
    (if (i32.or (i32.ge_s (local.get $l0) (local.get $l1)) (i32.eqz (local.get $O))) (then (return)))
    (local.set $K (i32.mul (i32.load (local.get $geo))
      (i32.mul (i32.load offset=16 (local.get $geo)) (i32.load offset=20 (local.get $geo)))))
    (local.set $ldc (i32.shl (i32.mul (i32.load offset=48 (local.get $geo)) (i32.load offset=52 (local.get $geo))) (i32.const 2)))
    (if (i32.eqz (local.get $K)) (then ;; no input channels: zeros
      (local.set $ic (i32.const 0))
      (loop $rows
        (memory.fill (i32.add (i32.add (local.get $y) (i32.mul (local.get $ic) (local.get $ldc))) (i32.shl (local.get $l0) (i32.const 2)))
          (i32.const 0) (i32.shl (i32.sub (local.get $l1) (local.get $l0)) (i32.const 2)))
        (br_if $rows (i32.lt_s (local.tee $ic (i32.add (local.get $ic) (i32.const 1))) (local.get $O))))
      (return)))
    ;; K blocks of even size: 288 = 9 x 32 stays one block, 600 is two of 300
    (local.set $kcmax (i32.div_u (local.get $K)
      (i32.div_u (i32.add (local.get $K) (i32.sub (global.get $KC2) (i32.const 1))) (global.get $KC2))))
    (local.set $kcmax (i32.add (local.get $kcmax) (i32.ne (i32.rem_u (local.get $K)
      (i32.div_u (i32.add (local.get $K) (i32.sub (global.get $KC2) (i32.const 1))) (global.get $KC2))) (i32.const 0))))
    ;; scratch: packed W block (MC x KC2), one packed B panel (KC2 x 8), an edge tile, 16 i32
    (local.set $ap (local.get $work))
    (local.set $bp (i32.add (local.get $ap) (i32.mul (i32.mul (global.get $MC) (global.get $KC2)) (i32.const 4))))
    (local.set $edge (i32.add (local.get $bp) (i32.mul (global.get $KC2) (i32.const 32))))
    (local.set $scr (i32.add (local.get $edge) (i32.const 128)))
    (loop $pc_loop
      (local.set $kc (select (local.get $kcmax) (i32.sub (local.get $K) (local.get $pc))
        (i32.gt_s (i32.sub (local.get $K) (local.get $pc)) (local.get $kcmax))))
      (local.set $ic (i32.const 0))
      (loop $ic_loop
        (local.set $mc (select (global.get $MC) (i32.sub (local.get $O) (local.get $ic))
          (i32.gt_s (i32.sub (local.get $O) (local.get $ic)) (global.get $MC))))
        (call $pack_a (i32.add (local.get $wt) (i32.shl (i32.add (i32.mul (local.get $ic) (local.get $K)) (local.get $pc)) (i32.const 2)))
          (i32.shl (local.get $K) (i32.const 2)) (i32.const 4) (local.get $mc) (local.get $kc) (local.get $ap))
        (local.set $l (local.get $l0))
        (loop $l_loop
          (local.set $nw (select (i32.const 8) (i32.sub (local.get $l1) (local.get $l))
            (i32.gt_s (i32.sub (local.get $l1) (local.get $l)) (i32.const 8))))
          (call $pack_im2col (local.get $x) (local.get $geo) (local.get $pc) (local.get $kc) (local.get $l)
            (local.get $nw) (local.get $bp) (local.get $scr))
          (local.set $ir (i32.const 0))
          (loop $ir_loop
            (call $tile
              (i32.add (local.get $ap) (i32.shl (i32.mul (local.get $ir) (local.get $kc)) (i32.const 2)))
              (local.get $bp) (local.get $kc)
              (i32.add (local.get $y) (i32.add (i32.mul (i32.add (local.get $ic) (local.get $ir)) (local.get $ldc))
                (i32.shl (local.get $l) (i32.const 2))))
              (local.get $ldc)
              (select (i32.const 4) (i32.sub (local.get $mc) (local.get $ir))
                (i32.gt_s (i32.sub (local.get $mc) (local.get $ir)) (i32.const 4)))
              (local.get $nw) (local.get $pc) (local.get $edge))
            (br_if $ir_loop (i32.lt_u (local.tee $ir (i32.add (local.get $ir) (i32.const 4))) (local.get $mc))))
          (br_if $l_loop (i32.lt_s (local.tee $l (i32.add (local.get $l) (i32.const 8))) (local.get $l1))))
        (br_if $ic_loop (i32.lt_s (local.tee $ic (i32.add (local.get $ic) (global.get $MC))) (local.get $O))))
      (br_if $pc_loop (i32.lt_s (local.tee $pc (i32.add (local.get $pc) (local.get $kc))) (local.get $K)))))

  ;; ---------------------------------------------------------------------------------------------
  ;; conv2d's weight gradient, channels first, one group: dW[o, k] = sum_r ct[o, r] cols[k, r], r
  ;; running over the output positions of every image in turn (r = b OH OW + l). The same GEMM with
  ;; A = ct [O, R] and B = cols^T [R, C KH KW], R the shared dimension: both are stored R-minor
  ;; (positions are their fastest axis), so both packings transpose. pack_ct packs ct's rows as
  ;; pack_a does; pack_cols_t packs each 8-column panel of cols^T (8 consecutive (c, kh, kw)) straight
  ;; from the images, so the im2col columns are never written. Geometry as conv2d's (14 i32 at $geo).

  ;; Pack rows [o0, o0 + mc) of ct [B, O, OH OW] at positions [r, r + kc) into panels of 4 rows,
  ;; k-major (panel p, step s holds rows 4p .. 4p + 3 at position r + s), zeros past row mc.
  ;; A run of positions stops at the end of an image: the next image's rows lie elsewhere.
  (func $pack_ct (param $ct i32) (param $geo i32) (param $r i32) (param $kc i32) (param $o0 i32)
    (param $mc i32) (param $dst i32)
    (local $O i32) (local $L i32) (local $b i32) (local $l i32) (local $s i32) (local $n i32)
    (local $i i32) (local $rows i32) (local $src i32) (local $d i32) (local $end i32)
    (local.set $O (i32.load offset=12 (local.get $geo)))
    (local.set $L (i32.mul (i32.load offset=48 (local.get $geo)) (i32.load offset=52 (local.get $geo))))
    (local.set $b (i32.div_u (local.get $r) (local.get $L)))
    (local.set $l (i32.rem_u (local.get $r) (local.get $L)))
    (local.set $rows (i32.and (i32.add (local.get $mc) (i32.const 3)) (i32.const -4))) ;; whole panels
    (loop $seg ;; positions [s, s + n) of the block: l .. l + n of image b
      (local.set $n (i32.sub (local.get $kc) (local.get $s)))
      (if (i32.gt_u (local.get $n) (i32.sub (local.get $L) (local.get $l)))
        (then (local.set $n (i32.sub (local.get $L) (local.get $l)))))
      (local.set $i (i32.const 0))
      (loop $row ;; row i goes to panel i / 4, float i % 4 of each 16-byte step
        (local.set $d (i32.add (local.get $dst) (i32.add
          (i32.shl (i32.add (i32.mul (i32.shr_u (local.get $i) (i32.const 2)) (local.get $kc)) (local.get $s)) (i32.const 4))
          (i32.shl (i32.and (local.get $i) (i32.const 3)) (i32.const 2)))))
        (local.set $end (i32.add (local.get $d) (i32.shl (local.get $n) (i32.const 4))))
        (if (i32.lt_u (local.get $i) (local.get $mc))
          (then
            (local.set $src (i32.add (local.get $ct) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $O))
              (i32.add (local.get $o0) (local.get $i))) (local.get $L)) (local.get $l)) (i32.const 2))))
            (loop $step
              (f32.store (local.get $d) (f32.load (local.get $src)))
              (local.set $src (i32.add (local.get $src) (i32.const 4)))
              (br_if $step (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end)))))
          (else
            (loop $step
              (f32.store (local.get $d) (f32.const 0))
              (br_if $step (i32.lt_u (local.tee $d (i32.add (local.get $d) (i32.const 16))) (local.get $end))))))
        (br_if $row (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $rows))))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (local.set $l (i32.const 0))
      (br_if $seg (i32.lt_u (local.tee $s (i32.add (local.get $s) (local.get $n))) (local.get $kc)))))

  ;; Pack columns [k0, k0 + nw) (nw <= 8) of cols^T at positions [r, r + kc) into one panel at $dst,
  ;; k-major (step s holds the 8 columns at position r + s), zeros past column nw. $x is the images
  ;; [B, C, H, W]. Column by column: column k = (c, kh, kw) at position (b, oh, ow) is
  ;; x[b, c, oh sh - ph + kh dh, ow sw - pw + kw dw]; along one output row the image column moves by
  ;; sw, so each row's stretch is zeros (left padding), a strided copy, zeros (right padding), or all
  ;; zeros when its image row is padding. With sw = 1 the copy loads 4 floats at a time (one vector).
  ;; Packing is a large share of the time where O is small (each packed float meets O weights' rows:
  ;; about 40% at O = 16); 4 x 4 transposes of whole blocks did not pay for their bookkeeping at the
  ;; short output rows here (16-20 positions), so this stays column by column.
  (func $pack_cols_t (param $x i32) (param $geo i32) (param $r i32) (param $kc i32) (param $k0 i32)
    (param $nw i32) (param $dst i32)
    (local $C i32) (local $H i32) (local $W i32) (local $KH i32) (local $KW i32) (local $sh i32) (local $sw i32)
    (local $ph i32) (local $pw i32) (local $dh i32) (local $dw i32) (local $OH i32) (local $OW i32)
    (local $plane i32) (local $img i32) (local $L i32) (local $j i32) (local $k i32) (local $offh i32) (local $offw i32)
    (local $xc i32) (local $l i32) (local $oh i32) (local $ow i32) (local $s i32) (local $n i32) (local $ih i32)
    (local $iw i32) (local $lo i32) (local $hi i32) (local $t i32) (local $d i32) (local $src i32) (local $step i32)
    (local $v v128)
    (local.set $C (i32.load (local.get $geo)))
    (local.set $H (i32.load offset=4 (local.get $geo)))
    (local.set $W (i32.load offset=8 (local.get $geo)))
    (local.set $KH (i32.load offset=16 (local.get $geo)))
    (local.set $KW (i32.load offset=20 (local.get $geo)))
    (local.set $sh (i32.load offset=24 (local.get $geo)))
    (local.set $sw (i32.load offset=28 (local.get $geo)))
    (local.set $ph (i32.load offset=32 (local.get $geo)))
    (local.set $pw (i32.load offset=36 (local.get $geo)))
    (local.set $dh (i32.load offset=40 (local.get $geo)))
    (local.set $dw (i32.load offset=44 (local.get $geo)))
    (local.set $OH (i32.load offset=48 (local.get $geo)))
    (local.set $OW (i32.load offset=52 (local.get $geo)))
    (local.set $plane (i32.shl (i32.mul (local.get $H) (local.get $W)) (i32.const 2)))
    (local.set $img (i32.mul (local.get $C) (local.get $plane)))
    (local.set $L (i32.mul (local.get $OH) (local.get $OW)))
    (local.set $step (i32.shl (local.get $sw) (i32.const 2)))
    (loop $col
      (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $j) (i32.const 2))))
      (if (i32.lt_u (local.get $j) (local.get $nw))
        (then
          (local.set $k (i32.add (local.get $k0) (local.get $j)))
          (local.set $offh (i32.sub (i32.mul (i32.rem_u (i32.div_u (local.get $k) (local.get $KW)) (local.get $KH)) (local.get $dh)) (local.get $ph)))
          (local.set $offw (i32.sub (i32.mul (i32.rem_u (local.get $k) (local.get $KW)) (local.get $dw)) (local.get $pw)))
          (local.set $l (i32.rem_u (local.get $r) (local.get $L)))
          (local.set $oh (i32.div_u (local.get $l) (local.get $OW)))
          (local.set $ow (i32.rem_u (local.get $l) (local.get $OW)))
          ;; channel c's plane in image b
          (local.set $xc (i32.add (local.get $x) (i32.add
            (i32.mul (i32.div_u (local.get $r) (local.get $L)) (local.get $img))
            (i32.mul (i32.div_u (local.get $k) (i32.mul (local.get $KH) (local.get $KW))) (local.get $plane)))))
          (local.set $s (i32.const 0))
          (loop $seg ;; positions [s, s + n): output row oh of image b, columns ow .. ow + n
            (local.set $n (i32.sub (local.get $kc) (local.get $s)))
            (if (i32.gt_u (local.get $n) (i32.sub (local.get $OW) (local.get $ow)))
              (then (local.set $n (i32.sub (local.get $OW) (local.get $ow)))))
            (local.set $ih (i32.add (i32.mul (local.get $oh) (local.get $sh)) (local.get $offh)))
            (local.set $iw (i32.add (i32.mul (local.get $ow) (local.get $sw)) (local.get $offw)))
            ;; copies for t in [lo, hi): 0 <= iw + t sw < W; zeros elsewhere
            (local.set $lo (local.get $n))
            (local.set $hi (local.get $n))
            (if (i32.lt_u (local.get $ih) (local.get $H)) ;; unsigned: negative rows too
              (then
                (local.set $lo (i32.const 0))
                (if (i32.lt_s (local.get $iw) (i32.const 0))
                  (then (local.set $lo (i32.div_u (i32.sub (i32.sub (local.get $sw) (i32.const 1)) (local.get $iw)) (local.get $sw)))))
                (if (i32.gt_u (local.get $lo) (local.get $n)) (then (local.set $lo (local.get $n))))
                (local.set $hi (i32.const 0))
                (if (i32.lt_s (local.get $iw) (local.get $W))
                  (then (local.set $hi (i32.add (i32.div_u (i32.sub (i32.sub (local.get $W) (i32.const 1)) (local.get $iw)) (local.get $sw)) (i32.const 1)))))
                (if (i32.gt_u (local.get $hi) (local.get $n)) (then (local.set $hi (local.get $n))))
                (if (i32.lt_u (local.get $hi) (local.get $lo)) (then (local.set $hi (local.get $lo))))))
            (local.set $t (i32.const 0))
            (block $z0 (loop $zeros0
              (br_if $z0 (i32.ge_u (local.get $t) (local.get $lo)))
              (f32.store (local.get $d) (f32.const 0))
              (local.set $d (i32.add (local.get $d) (i32.const 32)))
              (local.set $t (i32.add (local.get $t) (i32.const 1)))
              (br $zeros0)))
            (if (i32.lt_u (local.get $t) (local.get $hi))
              (then
                (local.set $src (i32.add (local.get $xc) (i32.shl (i32.add (i32.mul (local.get $ih) (local.get $W))
                  (i32.add (local.get $iw) (i32.mul (local.get $t) (local.get $sw)))) (i32.const 2))))
                (if (i32.eq (local.get $sw) (i32.const 1))
                  (then ;; adjacent floats: four at a time, one vector load
                    (block $short (loop $four
                      (br_if $short (i32.gt_u (i32.add (local.get $t) (i32.const 4)) (local.get $hi)))
                      (local.set $v (v128.load (local.get $src)))
                      (f32.store (local.get $d) (f32x4.extract_lane 0 (local.get $v)))
                      (f32.store offset=32 (local.get $d) (f32x4.extract_lane 1 (local.get $v)))
                      (f32.store offset=64 (local.get $d) (f32x4.extract_lane 2 (local.get $v)))
                      (f32.store offset=96 (local.get $d) (f32x4.extract_lane 3 (local.get $v)))
                      (local.set $src (i32.add (local.get $src) (i32.const 16)))
                      (local.set $d (i32.add (local.get $d) (i32.const 128)))
                      (local.set $t (i32.add (local.get $t) (i32.const 4)))
                      (br $four)))))
                (block $done (loop $copy
                  (br_if $done (i32.ge_u (local.get $t) (local.get $hi)))
                  (f32.store (local.get $d) (f32.load (local.get $src)))
                  (local.set $src (i32.add (local.get $src) (local.get $step)))
                  (local.set $d (i32.add (local.get $d) (i32.const 32)))
                  (local.set $t (i32.add (local.get $t) (i32.const 1)))
                  (br $copy)))))
            (block $z1 (loop $zeros1
              (br_if $z1 (i32.ge_u (local.get $t) (local.get $n)))
              (f32.store (local.get $d) (f32.const 0))
              (local.set $d (i32.add (local.get $d) (i32.const 32)))
              (local.set $t (i32.add (local.get $t) (i32.const 1)))
              (br $zeros1)))
            ;; next output row, and next image after the last
            (if (i32.eq (local.tee $ow (i32.add (local.get $ow) (local.get $n))) (local.get $OW))
              (then
                (local.set $ow (i32.const 0))
                (if (i32.eq (local.tee $oh (i32.add (local.get $oh) (i32.const 1))) (local.get $OH))
                  (then
                    (local.set $oh (i32.const 0))
                    (local.set $xc (i32.add (local.get $xc) (local.get $img)))))))
            (br_if $seg (i32.lt_u (local.tee $s (i32.add (local.get $s) (local.get $n))) (local.get $kc)))))
        (else ;; past the last column: zeros
          (local.set $t (local.get $kc))
          (loop $zeros
            (f32.store (local.get $d) (f32.const 0))
            (local.set $d (i32.add (local.get $d) (i32.const 32)))
            (br_if $zeros (local.tee $t (i32.sub (local.get $t) (i32.const 1)))))))
      (br_if $col (i32.lt_u (local.tee $j (i32.add (local.get $j) (i32.const 1))) (i32.const 8)))))

  ;; dW [O, C KH KW] at $dw = the sum over positions [r0, r1) (of all B images, r = b OH OW + l) of
  ;; ct [B, O, OH OW] at $ct times the columns of $x [B, C, H, W]; stored, not added to what $dw
  ;; holds (zeros for an empty range). Blocks: positions in KC2-sized pieces (as even as can be),
  ;; rows of ct in MC blocks (pack_ct), then for each 8-column panel of dW, pack it and run every
  ;; 4-row panel of the block on it; the first piece stores its tiles, the others add.
  (func (export "conv2d_wgrad") (param $x i32) (param $ct i32) (param $dw i32) (param $geo i32)
    (param $r0 i32) (param $r1 i32) (param $work i32)
    (local $O i32) (local $K i32) (local $ldc i32) (local $kcmax i32) (local $ap i32) (local $bp i32)
    (local $edge i32) (local $pc i32) (local $kc i32) (local $ic i32) (local $mc i32) (local $jr i32)
    (local $nw i32) (local $ir i32) (local $pieces i32)
    (local.set $O (i32.load offset=12 (local.get $geo)))
    (local.set $K (i32.mul (i32.load (local.get $geo))
      (i32.mul (i32.load offset=16 (local.get $geo)) (i32.load offset=20 (local.get $geo)))))
    (local.set $ldc (i32.shl (local.get $K) (i32.const 2)))
    (if (i32.or (i32.eqz (local.get $O)) (i32.eqz (local.get $K))) (then (return)))
    (if (i32.ge_s (local.get $r0) (local.get $r1)) (then ;; no positions: zeros
      (memory.fill (local.get $dw) (i32.const 0) (i32.mul (local.get $O) (local.get $ldc)))
      (return)))
    (local.set $pieces (i32.div_u (i32.add (i32.sub (local.get $r1) (local.get $r0)) (i32.sub (global.get $KC2) (i32.const 1))) (global.get $KC2)))
    (local.set $kcmax (i32.div_u (i32.add (i32.sub (local.get $r1) (local.get $r0)) (i32.sub (local.get $pieces) (i32.const 1))) (local.get $pieces)))
    ;; scratch: packed ct block (MC x KC2), one packed column panel (KC2 x 8), an edge tile
    (local.set $ap (local.get $work))
    (local.set $bp (i32.add (local.get $ap) (i32.mul (i32.mul (global.get $MC) (global.get $KC2)) (i32.const 4))))
    (local.set $edge (i32.add (local.get $bp) (i32.mul (global.get $KC2) (i32.const 32))))
    (local.set $pc (local.get $r0))
    (loop $pc_loop
      (local.set $kc (select (local.get $kcmax) (i32.sub (local.get $r1) (local.get $pc))
        (i32.gt_s (i32.sub (local.get $r1) (local.get $pc)) (local.get $kcmax))))
      (local.set $ic (i32.const 0))
      (loop $ic_loop
        (local.set $mc (select (global.get $MC) (i32.sub (local.get $O) (local.get $ic))
          (i32.gt_s (i32.sub (local.get $O) (local.get $ic)) (global.get $MC))))
        (call $pack_ct (local.get $ct) (local.get $geo) (local.get $pc) (local.get $kc) (local.get $ic) (local.get $mc) (local.get $ap))
        (local.set $jr (i32.const 0))
        (loop $jr_loop
          (local.set $nw (select (i32.const 8) (i32.sub (local.get $K) (local.get $jr))
            (i32.gt_s (i32.sub (local.get $K) (local.get $jr)) (i32.const 8))))
          (call $pack_cols_t (local.get $x) (local.get $geo) (local.get $pc) (local.get $kc) (local.get $jr)
            (local.get $nw) (local.get $bp))
          (local.set $ir (i32.const 0))
          (loop $ir_loop
            (call $tile
              (i32.add (local.get $ap) (i32.shl (i32.mul (local.get $ir) (local.get $kc)) (i32.const 2)))
              (local.get $bp) (local.get $kc)
              (i32.add (local.get $dw) (i32.add (i32.mul (i32.add (local.get $ic) (local.get $ir)) (local.get $ldc))
                (i32.shl (local.get $jr) (i32.const 2))))
              (local.get $ldc)
              (select (i32.const 4) (i32.sub (local.get $mc) (local.get $ir))
                (i32.gt_s (i32.sub (local.get $mc) (local.get $ir)) (i32.const 4)))
              (local.get $nw) (i32.ne (local.get $pc) (local.get $r0)) (local.get $edge))
            (br_if $ir_loop (i32.lt_u (local.tee $ir (i32.add (local.get $ir) (i32.const 4))) (local.get $mc))))
          (br_if $jr_loop (i32.lt_s (local.tee $jr (i32.add (local.get $jr) (i32.const 8))) (local.get $K))))
        (br_if $ic_loop (i32.lt_s (local.tee $ic (i32.add (local.get $ic) (global.get $MC))) (local.get $O))))
      (br_if $pc_loop (i32.lt_s (local.tee $pc (i32.add (local.get $pc) (local.get $kc))) (local.get $r1)))))

  ;; $dst[0:n] += $src[0:n], float32 (the weight gradient's partial sums, added up in a fixed order).
  (func (export "add_to") (param $dst i32) (param $src i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $dst) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $done
      (loop $v
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (br $v)))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $done
      (loop $s
        (br_if $done (i32.ge_u (local.get $dst) (local.get $end)))
        (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (br $s))))

  ;; ---------------------------------------------------------------------------------------------------
  ;; BatchNorm's per-channel loops (../channels.ts), over x laid out [B, C, S]: B outer rows, C
  ;; channels, S positions per channel in a run. Per-channel values (mean, scale, ...) and sums are
  ;; float64 arrays indexed by channel; tensors are float32. Every value is widened to float64 and the
  ;; arithmetic is float64, two lanes at a time, so an elementwise result is what JavaScript's
  ;; float64 expression gives, rounded to float32 once on the store. Sums add four lanes' partial sums
  ;; at the end of each run (an order of their own, not JavaScript's left to right).
  ;; $lo and $hi below: lanes 0-1 and 2-3 of a float32 vector, as float64.

  ;; acc[c] += sum of x over the run, for every run.
  (func (export "ch_sum") (param $x i32) (param $B i32) (param $C i32) (param $S i32) (param $acc i32)
    (local $b i32) (local $c i32) (local $vend i32) (local $end i32) (local $v v128) (local $s0 v128) (local $s1 v128) (local $t f64)
    (loop $rows
      (local.set $c (i32.const 0))
      (loop $chans
        (local.set $vend (i32.add (local.get $x) (i32.shl (i32.and (local.get $S) (i32.const -4)) (i32.const 2))))
        (local.set $end (i32.add (local.get $x) (i32.shl (local.get $S) (i32.const 2))))
        (local.set $s0 (v128.const i64x2 0 0)) (local.set $s1 (v128.const i64x2 0 0)) (local.set $t (f64.const 0))
        (block $done (loop $vec
          (br_if $done (i32.ge_u (local.get $x) (local.get $vend)))
          (local.set $v (v128.load (local.get $x)))
          (local.set $s0 (f64x2.add (local.get $s0) (f64x2.promote_low_f32x4 (local.get $v))))
          (local.set $s1 (f64x2.add (local.get $s1) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (br $vec)))
        (block $done (loop $tail
          (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
          (local.set $t (f64.add (local.get $t) (f64.promote_f32 (f32.load (local.get $x)))))
          (local.set $x (i32.add (local.get $x) (i32.const 4)))
          (br $tail)))
        (local.set $s0 (f64x2.add (local.get $s0) (local.get $s1)))
        (call $add_f64 (local.get $acc) (local.get $c)
          (f64.add (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0))) (local.get $t)))
        (br_if $chans (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 1))) (local.get $C))))
      (br_if $rows (i32.lt_u (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $B)))))

  ;; acc[c] += sum of (x - mean[c])^2 over the run, for every run.
  (func (export "ch_sqdev") (param $x i32) (param $B i32) (param $C i32) (param $S i32) (param $mean i32) (param $acc i32)
    (local $b i32) (local $c i32) (local $vend i32) (local $end i32) (local $v v128) (local $m v128) (local $d v128)
    (local $s0 v128) (local $s1 v128) (local $t f64) (local $ms f64) (local $ds f64)
    (loop $rows
      (local.set $c (i32.const 0))
      (loop $chans
        (local.set $ms (f64.load (i32.add (local.get $mean) (i32.shl (local.get $c) (i32.const 3)))))
        (local.set $m (f64x2.splat (local.get $ms)))
        (local.set $vend (i32.add (local.get $x) (i32.shl (i32.and (local.get $S) (i32.const -4)) (i32.const 2))))
        (local.set $end (i32.add (local.get $x) (i32.shl (local.get $S) (i32.const 2))))
        (local.set $s0 (v128.const i64x2 0 0)) (local.set $s1 (v128.const i64x2 0 0)) (local.set $t (f64.const 0))
        (block $done (loop $vec
          (br_if $done (i32.ge_u (local.get $x) (local.get $vend)))
          (local.set $v (v128.load (local.get $x)))
          (local.set $d (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $m)))
          (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $d) (local.get $d))))
          (local.set $d (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $m)))
          (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $d) (local.get $d))))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (br $vec)))
        (block $done (loop $tail
          (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
          (local.set $ds (f64.sub (f64.promote_f32 (f32.load (local.get $x))) (local.get $ms)))
          (local.set $t (f64.add (local.get $t) (f64.mul (local.get $ds) (local.get $ds))))
          (local.set $x (i32.add (local.get $x) (i32.const 4)))
          (br $tail)))
        (local.set $s0 (f64x2.add (local.get $s0) (local.get $s1)))
        (call $add_f64 (local.get $acc) (local.get $c)
          (f64.add (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0))) (local.get $t)))
        (br_if $chans (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 1))) (local.get $C))))
      (br_if $rows (i32.lt_u (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $B)))))

  ;; a[c] += sum of h, s[c] += sum of h (x - mean[c]) over the run, for every run; h is g, or with
  ;; $mask, reluGrad(r, g): g where r > 0, else +0.
  (func (export "ch_gsums") (param $x i32) (param $g i32) (param $r i32) (param $mask i32) (param $B i32) (param $C i32) (param $S i32)
    (param $mean i32) (param $a i32) (param $s i32)
    (local $b i32) (local $c i32) (local $vend i32) (local $end i32) (local $v v128) (local $h v128) (local $m v128) (local $hl v128)
    (local $a0 v128) (local $a1 v128) (local $s0 v128) (local $s1 v128) (local $ta f64) (local $ts f64) (local $ms f64) (local $hs f64)
    (loop $rows
      (local.set $c (i32.const 0))
      (loop $chans
        (local.set $ms (f64.load (i32.add (local.get $mean) (i32.shl (local.get $c) (i32.const 3)))))
        (local.set $m (f64x2.splat (local.get $ms)))
        (local.set $vend (i32.add (local.get $x) (i32.shl (i32.and (local.get $S) (i32.const -4)) (i32.const 2))))
        (local.set $end (i32.add (local.get $x) (i32.shl (local.get $S) (i32.const 2))))
        (local.set $a0 (v128.const i64x2 0 0)) (local.set $a1 (v128.const i64x2 0 0)) (local.set $ta (f64.const 0))
        (local.set $s0 (v128.const i64x2 0 0)) (local.set $s1 (v128.const i64x2 0 0)) (local.set $ts (f64.const 0))
        (block $done (loop $vec
          (br_if $done (i32.ge_u (local.get $x) (local.get $vend)))
          (local.set $v (v128.load (local.get $x)))
          (local.set $h (v128.load (local.get $g)))
          (if (local.get $mask) (then
            (local.set $h (v128.and (local.get $h) (f32x4.gt (v128.load (local.get $r)) (v128.const i64x2 0 0))))
            (local.set $r (i32.add (local.get $r) (i32.const 16)))))
          (local.set $hl (f64x2.promote_low_f32x4 (local.get $h)))
          (local.set $a0 (f64x2.add (local.get $a0) (local.get $hl)))
          (local.set $s0 (f64x2.add (local.get $s0) (f64x2.mul (local.get $hl) (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $m)))))
          (local.set $hl (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $h) (local.get $h))))
          (local.set $a1 (f64x2.add (local.get $a1) (local.get $hl)))
          (local.set $s1 (f64x2.add (local.get $s1) (f64x2.mul (local.get $hl)
            (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $m)))))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $g (i32.add (local.get $g) (i32.const 16)))
          (br $vec)))
        (block $done (loop $tail
          (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
          (local.set $hs (f64.promote_f32 (f32.load (local.get $g))))
          (if (local.get $mask) (then
            (if (i32.eqz (f32.gt (f32.load (local.get $r)) (f32.const 0))) (then (local.set $hs (f64.const 0))))
            (local.set $r (i32.add (local.get $r) (i32.const 4)))))
          (local.set $ta (f64.add (local.get $ta) (local.get $hs)))
          (local.set $ts (f64.add (local.get $ts) (f64.mul (local.get $hs) (f64.sub (f64.promote_f32 (f32.load (local.get $x))) (local.get $ms)))))
          (local.set $x (i32.add (local.get $x) (i32.const 4)))
          (local.set $g (i32.add (local.get $g) (i32.const 4)))
          (br $tail)))
        (local.set $a0 (f64x2.add (local.get $a0) (local.get $a1)))
        (local.set $s0 (f64x2.add (local.get $s0) (local.get $s1)))
        (call $add_f64 (local.get $a) (local.get $c)
          (f64.add (f64.add (f64x2.extract_lane 0 (local.get $a0)) (f64x2.extract_lane 1 (local.get $a0))) (local.get $ta)))
        (call $add_f64 (local.get $s) (local.get $c)
          (f64.add (f64.add (f64x2.extract_lane 0 (local.get $s0)) (f64x2.extract_lane 1 (local.get $s0))) (local.get $ts)))
        (br_if $chans (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 1))) (local.get $C))))
      (br_if $rows (i32.lt_u (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $B)))))

  ;; y = k1[c] (h - k2[c] - (x - mean[c]) k3[c]), h as in ch_gsums (BatchNorm's input cotangent);
  ;; with $affine instead y = (x - mean[c]) k1[c] + k2[c] (its forward pass; g, r and k3 unused),
  ;; then with $mask relu(y) (nan kept, +0 for the rest).
  (func (export "ch_map") (param $x i32) (param $g i32) (param $r i32) (param $y i32) (param $affine i32) (param $mask i32)
    (param $B i32) (param $C i32) (param $S i32) (param $mean i32) (param $k1 i32) (param $k2 i32) (param $k3 i32)
    (local $b i32) (local $c i32) (local $vend i32) (local $end i32) (local $o i32)
    (local $v v128) (local $h v128) (local $m v128) (local $p1 v128) (local $p2 v128) (local $p3 v128) (local $lo v128) (local $hi v128)
    (local $ms f64) (local $q1 f64) (local $q2 f64) (local $q3 f64) (local $hs f64) (local $ys f32)
    (loop $rows
      (local.set $c (i32.const 0))
      (loop $chans
        (local.set $o (i32.shl (local.get $c) (i32.const 3)))
        (local.set $ms (f64.load (i32.add (local.get $mean) (local.get $o))))
        (local.set $q1 (f64.load (i32.add (local.get $k1) (local.get $o))))
        (local.set $q2 (f64.load (i32.add (local.get $k2) (local.get $o))))
        (if (i32.eqz (local.get $affine)) (then (local.set $q3 (f64.load (i32.add (local.get $k3) (local.get $o))))))
        (local.set $m (f64x2.splat (local.get $ms))) (local.set $p1 (f64x2.splat (local.get $q1)))
        (local.set $p2 (f64x2.splat (local.get $q2))) (local.set $p3 (f64x2.splat (local.get $q3)))
        (local.set $vend (i32.add (local.get $x) (i32.shl (i32.and (local.get $S) (i32.const -4)) (i32.const 2))))
        (local.set $end (i32.add (local.get $x) (i32.shl (local.get $S) (i32.const 2))))
        (block $done (loop $vec
          (br_if $done (i32.ge_u (local.get $x) (local.get $vend)))
          (local.set $v (v128.load (local.get $x)))
          (if (local.get $affine)
            (then
              (local.set $lo (f64x2.add (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $m)) (local.get $p1)) (local.get $p2)))
              (local.set $hi (f64x2.add (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4
                (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $m)) (local.get $p1)) (local.get $p2))))
            (else
              (local.set $h (v128.load (local.get $g)))
              (if (local.get $mask) (then
                (local.set $h (v128.and (local.get $h) (f32x4.gt (v128.load (local.get $r)) (v128.const i64x2 0 0))))
                (local.set $r (i32.add (local.get $r) (i32.const 16)))))
              (local.set $g (i32.add (local.get $g) (i32.const 16)))
              (local.set $lo (f64x2.mul (local.get $p1) (f64x2.sub (f64x2.sub (f64x2.promote_low_f32x4 (local.get $h)) (local.get $p2))
                (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (local.get $m)) (local.get $p3)))))
              (local.set $hi (f64x2.mul (local.get $p1) (f64x2.sub (f64x2.sub (f64x2.promote_low_f32x4
                (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $h) (local.get $h))) (local.get $p2))
                (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))) (local.get $m)) (local.get $p3)))))))
          (local.set $v (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (local.get $lo)) (f32x4.demote_f64x2_zero (local.get $hi))))
          (if (i32.and (local.get $affine) (local.get $mask)) (then
            (local.set $v (v128.and (local.get $v)
              (v128.or (f32x4.gt (local.get $v) (v128.const i64x2 0 0)) (f32x4.ne (local.get $v) (local.get $v)))))))
          (v128.store (local.get $y) (local.get $v))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $y (i32.add (local.get $y) (i32.const 16)))
          (br $vec)))
        (block $done (loop $tail
          (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
          (if (local.get $affine)
            (then
              (local.set $ys (f32.demote_f64 (f64.add (f64.mul (f64.sub (f64.promote_f32 (f32.load (local.get $x))) (local.get $ms)) (local.get $q1)) (local.get $q2))))
              (if (local.get $mask) (then
                (if (i32.eqz (i32.or (f32.gt (local.get $ys) (f32.const 0)) (f32.ne (local.get $ys) (local.get $ys))))
                  (then (local.set $ys (f32.const 0)))))))
            (else
              (local.set $hs (f64.promote_f32 (f32.load (local.get $g))))
              (if (local.get $mask) (then
                (if (i32.eqz (f32.gt (f32.load (local.get $r)) (f32.const 0))) (then (local.set $hs (f64.const 0))))
                (local.set $r (i32.add (local.get $r) (i32.const 4)))))
              (local.set $g (i32.add (local.get $g) (i32.const 4)))
              (local.set $ys (f32.demote_f64 (f64.mul (local.get $q1) (f64.sub (f64.sub (local.get $hs) (local.get $q2))
                (f64.mul (f64.sub (f64.promote_f32 (f32.load (local.get $x))) (local.get $ms)) (local.get $q3))))))))
          (f32.store (local.get $y) (local.get $ys))
          (local.set $x (i32.add (local.get $x) (i32.const 4)))
          (local.set $y (i32.add (local.get $y) (i32.const 4)))
          (br $tail)))
        (br_if $chans (i32.lt_u (local.tee $c (i32.add (local.get $c) (i32.const 1))) (local.get $C))))
      (br_if $rows (i32.lt_u (local.tee $b (i32.add (local.get $b) (i32.const 1))) (local.get $B)))))

  ;; ---------------------------------------------------------------------------------------------
  ;; fold (col2im, core/prims/fold.ts): P planes, each a sum of runs of its columns. Plane p's columns
  ;; are the n floats at $x + 4 p n; run r (three i32 at $runs + 12 r: dst, src, len) adds
  ;; cols[dst + j] into acc[src + j step] for j < len, acc being S float64 at $acc; then the plane's
  ;; S sums go to $y + 4 p S, each rounded once to float32. These are the JavaScript loop's additions
  ;; in its order (each sum takes its terms run after run; a run's terms go to distinct sums, so with
  ;; step 1 four of them go at once), so its values bit for bit. P >= 1.
  (func (export "fold_runs") (param $x i32) (param $P i32) (param $n i32) (param $runs i32) (param $R i32)
    (param $step i32) (param $acc i32) (param $S i32) (param $y i32)
    (local $p i32) (local $r i32) (local $d i32) (local $s i32) (local $end i32) (local $at i32) (local $jump i32) (local $v v128)
    (local.set $jump (i32.shl (local.get $step) (i32.const 3)))
    (loop $planes
      (memory.fill (local.get $acc) (i32.const 0) (i32.shl (local.get $S) (i32.const 3)))
      (local.set $r (i32.const 0))
      (block $runs_done (loop $run
        (br_if $runs_done (i32.ge_u (local.get $r) (local.get $R)))
        (local.set $at (i32.add (local.get $runs) (i32.mul (local.get $r) (i32.const 12))))
        (local.set $d (i32.add (local.get $x) (i32.shl (i32.load (local.get $at)) (i32.const 2))))
        (local.set $s (i32.add (local.get $acc) (i32.shl (i32.load offset=4 (local.get $at)) (i32.const 3))))
        (local.set $end (i32.add (local.get $d) (i32.shl (i32.load offset=8 (local.get $at)) (i32.const 2))))
        (if (i32.eq (local.get $step) (i32.const 1))
          (then ;; four terms at a time while four are left
            (block $done (loop $vec
              (br_if $done (i32.gt_u (i32.add (local.get $d) (i32.const 16)) (local.get $end)))
              (local.set $v (v128.load (local.get $d)))
              (v128.store (local.get $s) (f64x2.add (v128.load (local.get $s)) (f64x2.promote_low_f32x4 (local.get $v))))
              (v128.store offset=16 (local.get $s) (f64x2.add (v128.load offset=16 (local.get $s))
                (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))))
              (local.set $d (i32.add (local.get $d) (i32.const 16)))
              (local.set $s (i32.add (local.get $s) (i32.const 32)))
              (br $vec)))))
        ;; the rest one at a time (all of a run with step > 1)
        (block $done (loop $one
          (br_if $done (i32.ge_u (local.get $d) (local.get $end)))
          (f64.store (local.get $s) (f64.add (f64.load (local.get $s)) (f64.promote_f32 (f32.load (local.get $d)))))
          (local.set $d (i32.add (local.get $d) (i32.const 4)))
          (local.set $s (i32.add (local.get $s) (local.get $jump)))
          (br $one)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $run)))
      ;; the plane's sums out, rounded to float32
      (local.set $s (local.get $acc))
      (local.set $end (i32.add (local.get $acc) (i32.shl (local.get $S) (i32.const 3))))
      (block $done (loop $out
        (br_if $done (i32.ge_u (local.get $s) (local.get $end)))
        (f32.store (local.get $y) (f32.demote_f64 (f64.load (local.get $s))))
        (local.set $s (i32.add (local.get $s) (i32.const 8)))
        (local.set $y (i32.add (local.get $y) (i32.const 4)))
        (br $out)))
      (local.set $x (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
      (br_if $planes (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 1))) (local.get $P)))))

  ;; acc[c] += v (float64 array at $acc)
  (func $add_f64 (param $acc i32) (param $c i32) (param $v f64)
    (local $p i32)
    (local.set $p (i32.add (local.get $acc) (i32.shl (local.get $c) (i32.const 3))))
    (f64.store (local.get $p) (f64.add (f64.load (local.get $p)) (local.get $v))))
)
