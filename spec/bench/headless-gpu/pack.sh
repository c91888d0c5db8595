#!/bin/bash
# Packs what a bare x86-64 Linux box with an NVIDIA card needs to run the gpu backend on that card, for
# a box with no display, no Node, no packages and no network (a rented GPU server, a CI runner):
#   node.xz     this machine's Node, compressed
#   xr.tar.xz   Xvfb, xkbcomp and Mesa's GLX from Debian packages with the libraries they load. headless-GL
#               renders through GLX, so it needs an X server offering GLX (Mesa's swrast provides it in
#               Xvfb); with __GLX_VENDOR_LIBRARY_NAME=nvidia the client side is NVIDIA's driver, on the card.
#               LLVM's libz3 and libxml2 (30 MB, never called by Mesa) are replaced by stubs.
#   pkg.tar.xz  the benches and the gpu specs bundled by esbuild, gpu.js and headless-GL's build
#   run.sh      the script to run there: `bash DIR/run.sh` (see its header)
# Usage, from the repository root of a checkout with node_modules (gl built) and Debian's apt:
#   bash spec/bench/headless-gpu/pack.sh [DIR, default .dev]     (about 60 MB; xz takes a few minutes)
set -euo pipefail
OUT=${1:-.dev}; ROOT=$(pwd); W=$(mktemp -d); trap 'rm -rf $W' EXIT
mkdir -p "$OUT"
[ -f "$OUT/node.xz" ] || xz -9 -T0 -c "$(readlink -f "$(command -v node)")" > "$OUT/node.xz"

if [ ! -f "$OUT/xr.tar.xz" ]; then
  DEBS="xvfb x11-xkb-utils xkb-data libxfont2 libpixman-1-0 libunwind8 libaudit1 libcap-ng0 libgcrypt20 libgpg-error0
    libselinux1 libsystemd0 liblz4-1 libzstd1 libfontenc1 libfreetype6 libpng16-16 libbrotli1 libxau6 libxdmcp6 libbsd0
    libmd0 libx11-6 libx11-xcb1 libxcb1 libxext6 libxi6 libxkbfile1 libxfixes3 libxxf86vm1 libxshmfence1 libxcb-dri2-0
    libxcb-dri3-0 libxcb-glx0 libxcb-present0 libxcb-sync1 libxcb-xfixes0 libxcb-randr0 libxcb-shm0 libgl1 libglx0
    libglvnd0 libglx-mesa0 libgl1-mesa-dri libglapi-mesa libllvm15 libedit2 libtinfo6 libffi8 libexpat1 libelf1
    libsensors5 libdrm2 libdrm-amdgpu1 libdrm-intel1 libdrm-nouveau2 libdrm-radeon1 libpciaccess0 libxml2 libz3-4"
  (cd $W && { apt-get download $DEBS >/dev/null 2>&1 || { apt-get update -qq && apt-get download $DEBS >/dev/null; }; })
  for f in $W/*.deb; do dpkg -x "$f" $W/root; done
  X=$W/xrmin; mkdir -p $X/bin $X/lib/dri $X/share
  cp $W/root/usr/bin/Xvfb $W/root/usr/bin/xkbcomp $X/bin/
  cp -L $W/root/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so $X/lib/dri/
  cp -r $W/root/usr/share/X11/xkb $X/share/xkb
  # every library these load, found in the packages (the C and C++ runtimes are the box's own)
  python3 - "$W/root" "$X/lib" "$ROOT/node_modules/gl/build/Release/webgl.node" <<'PY'
import os, shutil, subprocess, sys
root, dest, webgl = sys.argv[1:]
dirs = [f'{root}/usr/lib/x86_64-linux-gnu', f'{root}/lib/x86_64-linux-gnu']
base = {'libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'librt.so.1', 'libstdc++.so.6', 'libgcc_s.so.1', 'ld-linux-x86-64.so.2', 'libresolv.so.2'}
stubbed = {'libz3.so.4', 'libxml2.so.2'}
def find(n): return next((os.path.join(d, n) for d in dirs if os.path.exists(os.path.join(d, n))), None)
def needed(p): return [l.split('[')[1].split(']')[0] for l in subprocess.run(['readelf', '-d', p], capture_output=True, text=True).stdout.splitlines() if '(NEEDED)' in l]
seeds = [f'{root}/usr/bin/Xvfb', f'{root}/usr/bin/xkbcomp', f'{root}/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so', webgl] + [find(n) for n in ['libGL.so.1', 'libGLX.so.0', 'libGLX_mesa.so.0']]
seen, stack = set(), list(seeds)
while stack:
    for n in needed(stack.pop()):
        if n in base or n in seen or n in stubbed: continue
        f = find(n)
        if f: seen.add(n); stack.append(f)
for n in seen | {'libGL.so.1', 'libGLX.so.0', 'libGLX_mesa.so.0'}: shutil.copy(find(n), os.path.join(dest, n))
PY
  # stubs: LLVM links Z3 (its static analyser's solver) and libxml2 (Windows manifests); Mesa loads LLVM
  # with RTLD_NOW, so every symbol must resolve, but none is ever called
  L=$W/root/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1
  nm -D --undefined-only $L | awk '$2 ~ /^Z3_/ {print "long " $2 "(void){return 0;}"}' > $W/z3.c
  nm -D --undefined-only $L | awk '$2 ~ /@LIBXML2/ {split($2, a, "@"); print a[1], a[2]}' > $W/xml.syms
  awk '$1 == "xmlFree" {print "void *xmlFree = 0;"; next} {print "long " $1 "(void){return 0;}"}' $W/xml.syms > $W/xml.c
  { echo "LIBXML2_2.4.30 { global: $(awk '$2 == "LIBXML2_2.4.30" {printf "%s; ", $1}' $W/xml.syms) local: *; };"
    echo "LIBXML2_2.6.0 { global: $(awk '$2 == "LIBXML2_2.6.0" {printf "%s; ", $1}' $W/xml.syms) } LIBXML2_2.4.30;"; } > $W/xml.map
  gcc -shared -fPIC -o $X/lib/libz3.so.4 -Wl,-soname,libz3.so.4 $W/z3.c
  gcc -shared -fPIC -o $X/lib/libxml2.so.2 -Wl,-soname,libxml2.so.2 -Wl,--version-script=$W/xml.map $W/xml.c
  tar -cf - -C $W xrmin | xz -9 -T0 > "$OUT/xr.tar.xz"
fi

# the benches and gpu specs as single files; gpu.js and gl stay packages (loaded with require at run time);
# CommonJS's require, __filename and __dirname defined for what tape and others bundle
P=$W/pkg; mkdir -p $P/b $P/s $P/cpu/wasm $P/node_modules/gl/build/Release
ESB=(--bundle --platform=node --format=esm --keep-names --entry-names=[name] --out-extension:.js=.mjs --external:gl --external:gpu.js --log-level=warning
  "--banner:js=import { createRequire as __cr } from 'module'; import { dirname as __dn } from 'path'; import { fileURLToPath as __fu } from 'url'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);")
npx esbuild spec/bench/jit.ts spec/bench/avid-step.ts spec/bench/headless-gl.ts --outdir=$P/b "${ESB[@]}"
npx esbuild spec/core/{gpu,primitives,autodiff,composites,jit}.spec.ts spec/nn/backends.spec.ts --outdir=$P/s "${ESB[@]}"
cp core/cpu/wasm/gemm.wasm $P/cpu/wasm/
for m in gpu.js acorn gpu-mock.js bindings file-uri-to-path bit-twiddle glsl-tokenizer through2 readable-stream inherits string_decoder safe-buffer util-deprecate xtend; do
  cp -r node_modules/$m $P/node_modules/
done
cp -r node_modules/gl/package.json node_modules/gl/index.js node_modules/gl/src $P/node_modules/gl/
cp node_modules/gl/build/Release/webgl.node $P/node_modules/gl/build/Release/
tar -cJf "$OUT/pkg.tar.xz" -C $W pkg
cp spec/bench/headless-gpu/run.sh "$OUT/run.sh"
du -sh "$OUT"
