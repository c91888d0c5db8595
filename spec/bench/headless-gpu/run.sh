#!/bin/bash
# Runs on the GPU box what pack.sh packed beside this script: unpacks Node, Xvfb + Mesa and the bundles
# under /tmp/d, starts Xvfb (Mesa's swrast gives it GLX), and runs with NVIDIA's GLX client library, so
# headless-GL's WebGL renders on the card (nvidia-smi lists node as a graphics process). Then, each
# under a timeout: a probe of the GL context, PARTS (default hg,hg0,jit,step,spec):
#   hg    spec/bench/headless-gl.ts: ours against tfjs-webgl, matmul and an MLP step
#   hg0   the same with AVID_GPU_LIGHT_FRAMEBUFFERS=0 (headless-GL's own framebuffer bookkeeping: 22
#         native calls where core/gpu/framebuffers.ts makes one), for what that patch is worth on a GPU
#   jit   spec/bench/jit.ts --backends gpu
#   step  spec/bench/avid-step.ts --backends gpu (the first jitted step compiled for about a minute on an
#         H100; kernels over SLOW_COMPILE_MS, default 1000, are named)
#   step28  the same with AVID_GPU_ONE_LAUNCH_LOG2=28 (matmul's one-launch route up to 2^28 multiply-adds,
#         not 2^24): fewer launches, more fetches each; which wins decides the default
#   spec  the gpu specs (SPECS, default gpu primitives autodiff composites jit backends) until SPEC_DEADLINE s,
#         each under SPEC_TIMEOUT s (default 120)
# Output goes to the terminal and to $OUT (default /tmp/out). MODE=mesa runs all of it on Mesa's
# llvmpipe instead, on the CPU: a dry run of the package anywhere. Runs as root (it writes
# /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so, where Xvfb looks for it, and /usr/bin/xkbcomp if missing).
D=$(cd "$(dirname "$0")" && pwd); T=/tmp/d; OUT=${OUT:-/tmp/out}; mkdir -p $T $OUT
MODE=${MODE:-nvidia}; PARTS=${PARTS:-hg,hg0,jit,step,spec}
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }
[ -x $T/node ] || { xz -dc $D/node.xz > $T/node && chmod +x $T/node; }
[ -d $T/xrmin ] || tar -xJf $D/xr.tar.xz -C $T
# the bundles always anew (a dry run here would otherwise reuse the last package's)
rm -rf $T/pkg && tar -xJf $D/pkg.tar.xz -C $T
echo "unpacked in $(el) s; $(uname -r); $(nproc) cpus; $(. /etc/os-release; echo $PRETTY_NAME)"
X=$T/xrmin
if [ "$MODE" = nvidia ]; then
  mkdir -p /usr/lib/x86_64-linux-gnu/dri
  [ -e /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so ] || cp $X/lib/dri/swrast_dri.so /usr/lib/x86_64-linux-gnu/dri/
  [ -x /usr/bin/xkbcomp ] || cp $X/bin/xkbcomp /usr/bin/xkbcomp
  mkdir -p /var/lib/xkb
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64; do [ -e $d/libGLX_nvidia.so.0 ] && NVD=$d && break; done
  [ -n "${NVD:-}" ] || NVD=$(dirname "$(timeout 30 find / -name libGLX_nvidia.so.0 -not -path '/proc/*' 2>/dev/null | head -1)")
  echo "libGLX_nvidia in: $NVD"
  export __GLX_VENDOR_LIBRARY_NAME=nvidia
  # headless-GL does not name its renderer, so the backend takes it for a software one unless told
  # (core/gpu/backend.ts isSoftware); AVID_GPU_SOFTWARE=1 here compares the software routes on the card
  export AVID_GPU_SOFTWARE=${AVID_GPU_SOFTWARE:-0}
  nvidia-smi -L
fi
export LD_LIBRARY_PATH=$X/lib${NVD:+:$NVD} LIBGL_DRIVERS_PATH=$X/lib/dri
$X/bin/Xvfb :77 -screen 0 1280x1024x24 -xkbdir $X/share/xkb -nolisten tcp > $OUT/xvfb.log 2>&1 &
XP=$!
sleep 2; export DISPLAY=:77 AVID_THREADS=${AVID_THREADS:-1}
kill -0 $XP || { echo "Xvfb died:"; cat $OUT/xvfb.log; exit 1; }
N=$T/node; P=$T/pkg
echo "=== probe ($(el) s)"
timeout 60 $N -e "
const gl = require('$P/node_modules/gl')(1, 1);
if (!gl) { console.log('NO CONTEXT'); process.exit(3); }
console.log(gl.getParameter(gl.VERSION), '|', gl.getParameter(gl.RENDERER), '| max texture', gl.getParameter(gl.MAX_TEXTURE_SIZE));
" 2>&1 | tail -5
if [ ${PIPESTATUS[0]} -ne 0 ]; then echo "probe failed"; tail -20 $OUT/xvfb.log; exit 2; fi
for part in ${PARTS//,/ }; do
  case $part in
    hg) echo "=== headless-gl: ours vs tfjs-webgl ($(el) s)"; timeout 120 $N $P/b/headless-gl.mjs ${HG_ARGS:---reps 9 --mlp-reps 15} 2>&1 | tee $OUT/headless-gl.txt;;
    hg0) echo "=== headless-gl, AVID_GPU_LIGHT_FRAMEBUFFERS=0 ($(el) s)"; AVID_GPU_LIGHT_FRAMEBUFFERS=0 timeout 120 $N $P/b/headless-gl.mjs ${HG_ARGS:---reps 9 --mlp-reps 15} 2>&1 | tee $OUT/headless-gl0.txt;;
    jit) echo "=== jit ($(el) s)"; timeout 120 $N $P/b/jit.mjs --backends gpu 2>&1 | tee $OUT/jit.txt;;
    step) echo "=== avid-step ($(el) s)"; AVID_GPU_SLOW_COMPILE_MS=${SLOW_COMPILE_MS:-1000} timeout 300 $N $P/b/avid-step.mjs --backends gpu --each ${STEP_ARGS:---rounds 6 --warmup 2} 2>&1 | tee $OUT/step.txt;;
    step28) echo "=== avid-step, AVID_GPU_ONE_LAUNCH_LOG2=28 ($(el) s)"; AVID_GPU_ONE_LAUNCH_LOG2=28 AVID_GPU_SLOW_COMPILE_MS=${SLOW_COMPILE_MS:-1000} timeout 300 $N $P/b/avid-step.mjs --backends gpu --each ${STEP_ARGS:---rounds 6 --warmup 2} 2>&1 | tee $OUT/step28.txt;;
    spec)
      for f in ${SPECS:-gpu primitives autodiff composites jit backends}; do
        [ $(el) -gt ${SPEC_DEADLINE:-600} ] && { echo "# $f: not run (deadline)"; continue; }
        s=$(date +%s); AVID_BACKEND=gpu AVID_REQUIRE_GPU=1 timeout ${SPEC_TIMEOUT:-120} $N --expose-gc $P/s/$f.spec.mjs > /tmp/spec-$f.txt 2>&1; rc=$?
        cat /tmp/spec-$f.txt >> $OUT/specs.txt
        echo "# spec $f [gpu]: rc $rc, $(grep -c '^ok' /tmp/spec-$f.txt) ok, $(grep -c '^not ok' /tmp/spec-$f.txt) not ok, $(( $(date +%s) - s )) s"
        grep -A6 '^not ok' /tmp/spec-$f.txt | head -20
      done;;
  esac
done
[ "$MODE" = nvidia ] && nvidia-smi | grep -iE "node|MiB" | head -4
kill $XP; echo "total $(el) s"
