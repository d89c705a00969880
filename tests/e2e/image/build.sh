#!/usr/bin/env bash
# Build (or reuse from cache) a bootable, OSTree-managed Debian disk image without
# Python, plus an archive-mode ostree repo holding v1..v5.
#
# usage: tests/e2e/image/build.sh [--guest bookworm|sid]   # build or reuse
#        E2E_REBUILD=1 tests/e2e/image/build.sh   # force a rebuild
#
# env:
#   E2E_GUEST       bookworm (default) or sid (tests/e2e/guest.sh); --guest wins
#   E2E_CACHE_DIR   cache root (default tests/e2e/.cache; the sid guest uses its sid/ subdir)
#   E2E_REPO_PORT   port the guest's ostree remote points at: http://10.0.2.2:PORT/repo
#                   (default 8480 for bookworm, 8490 for sid; part of the cache key)
#   E2E_DISK_SIZE   raw disk size (default 3G)
#   E2E_MIRROR      Debian mirror for mmdebstrap (default: mmdebstrap's default,
#                   i.e. whatever apt on this host is configured to reach)
#
# Output (printed as the last line): the image dir $E2E_CACHE_DIR/img-<key>/ with
#   disk-v1.raw    pristine sparse disk, v1 deployed (never booted: use an overlay)
#   repo/          archive ostree repo, branch $BRANCH, commits v1..v5
#   id_ed25519     ssh private key authorized for root in the guest (+ .pub)
#   image.env      shell-sourceable facts (commits, branch, remote, port, ...)
# and $E2E_CACHE_DIR/current -> img-<key>
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_DIR=$(dirname "$HERE")
GUEST=${E2E_GUEST:-bookworm}
if [ "${1:-}" = --guest ]; then GUEST=${2:?--guest needs bookworm or sid}; shift 2; fi
# shellcheck source=tests/e2e/guest.sh
. "$E2E_DIR/guest.sh"
e2e_guest_config "$GUEST"   # SUITE BRANCH GUEST_PACKAGES GUEST_DRACUT_CONF DEFAULT_REPO_PORT CACHE
REPO_PORT=${E2E_REPO_PORT:-$DEFAULT_REPO_PORT}
DISK_SIZE=${E2E_DISK_SIZE:-3G}
REMOTE=e2e
OSNAME=debian
T0=$(date +%s)

log() { printf '[build %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap, loop devices, mount)"

# ------------------------------------------------------------------ host tools
ensure_tools() {
  local need=() c
  declare -A pkg=(
    [mmdebstrap]=mmdebstrap [ostree]=ostree [qemu-system-x86_64]=qemu-system-x86
    [qemu-img]=qemu-utils [grub-install]=grub2-common [mkfs.ext4]=e2fsprogs
    [parted]=parted [partx]=util-linux [losetup]=mount [ssh-keygen]=openssh-client
    [ssh]=openssh-client [sha256sum]=coreutils [flock]=util-linux [curl]=curl
    # grub-install finds the disk of /boot's loop partition with udevadm; without it:
    # "cannot find a GRUB drive for /dev/loop0p1" (a fresh machine has no udev)
    [udevadm]=udev
  )
  for c in "${!pkg[@]}"; do command -v "$c" >/dev/null 2>&1 || need+=("${pkg[$c]}"); done
  [ -d /usr/lib/grub/i386-pc ] || need+=(grub-pc-bin)
  # /etc/grub.d/15_ostree + dracut module on the host are not needed, but
  # ostree-boot is cheap and documents the pairing
  dpkg -s ostree-boot >/dev/null 2>&1 || need+=(ostree-boot)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing host packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null 2>&1 || {
      apt-get update -q >/dev/null
      apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
    }
  fi
}
ensure_tools

# ------------------------------------------------------------------ cache key
mapfile -t PKGS < <(grep -v '^\s*#' "$GUEST_PACKAGES" | grep -v '^\s*$')
KEY=$( { cat "$HERE/build.sh" "$E2E_DIR/guest.sh" "$HERE/tree-fixup.sh" "$HERE/grub-gen.sh" "$GUEST_PACKAGES" \
             "$GUEST_DRACUT_CONF" "$HERE/modprobe-e2e.conf";
         echo "suite=$SUITE port=$REPO_PORT size=$DISK_SIZE branch=$BRANCH"; } | sha256sum | cut -c1-16)
OUT=$CACHE/img-$KEY
mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock 9
if [ -f "$OUT/.complete" ] && [ -z "${E2E_REBUILD:-}" ]; then
  ln -sfn "img-$KEY" "$CACHE/current"
  log "reusing cached image $OUT"
  echo "$OUT"
  exit 0
fi

WORK=$CACHE/work-$KEY
MNT=$WORK/mnt
LOOP=
cleanup() {
  set +e
  mountpoint -q "$MNT/boot" && umount "$MNT/boot"
  mountpoint -q "$MNT" && umount "$MNT"
  if [ -n "$LOOP" ]; then partx -d "$LOOP" 2>/dev/null; losetup -d "$LOOP"; fi
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
rm -rf "$WORK" "$OUT"
mkdir -p "$WORK" "$MNT"

# ------------------------------------------------------------------ ssh key
ssh-keygen -q -t ed25519 -N '' -C "e2e-$KEY" -f "$WORK/id_ed25519"

# ------------------------------------------------------------------ rootfs
# Stage 1 (slow, ~3 min): mmdebstrap + dracut, cached as a tarball keyed only by
# what goes into it, so changes to the later stages do not re-run it.
ROOTFS_KEY=$( { cat "$GUEST_PACKAGES" "$GUEST_DRACUT_CONF" "$HERE/modprobe-e2e.conf";
               sed -n '/^mmdebstrap_cmd()/,/^}/p' "$HERE/build.sh"; echo "$SUITE ${E2E_MIRROR:-}"; } | sha256sum | cut -c1-16)
ROOTFS_TAR=$CACHE/rootfs-$ROOTFS_KEY.tar
mmdebstrap_cmd() {
  # dracut: generic (no-hostonly) initramfs with the ostree module and only the
  # virtio drivers, written where ostree expects it.  (The kernel postinst hook
  # already ran dracut once; that output in /boot is discarded.)
  # shellcheck disable=SC2016
  # Check-Valid-Until: sid's Release expires after a week; a mirror that is a snapshot serves an
  # expired one (stable releases have no expiry).
  mmdebstrap --variant=minbase --mode=root --format=tar \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --include="$(IFS=,; echo "${PKGS[*]}")" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --essential-hook='mkdir -p "$1/etc/dracut.conf.d" "$1/etc/modprobe.d"' \
    --essential-hook="copy-in $GUEST_DRACUT_CONF /etc/dracut.conf.d/" \
    --essential-hook="copy-in $HERE/modprobe-e2e.conf /etc/modprobe.d/" \
    --customize-hook='kver=$(ls -1 "$1/usr/lib/modules" | sort -V | tail -n1); chroot "$1" dracut --force --no-hostonly --kver "$kver" "/usr/lib/modules/$kver/initramfs.img"' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    "$SUITE" "$1" ${E2E_MIRROR:+"$E2E_MIRROR"}
}
if [ -f "$ROOTFS_TAR" ] && [ -z "${E2E_REBUILD:-}" ]; then
  log "reusing cached rootfs $ROOTFS_TAR"
else
  log "mmdebstrap $SUITE (${#PKGS[@]} packages)"
  mmdebstrap_cmd "$ROOTFS_TAR.tmp" >"$WORK/mmdebstrap.log" 2>&1 \
    || { tail -n 40 "$WORK/mmdebstrap.log" >&2; rm -f "$ROOTFS_TAR.tmp"; die "mmdebstrap failed"; }
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
fi
ROOT=$WORK/rootfs
mkdir -p "$ROOT"
tar -C "$ROOT" --numeric-owner --xattrs --xattrs-include='*' -xf "$ROOTFS_TAR"

log "fixing up tree for ostree"
E2E_COMPOSEFS=$COMPOSEFS "$HERE/tree-fixup.sh" "$ROOT" "$WORK/id_ed25519.pub" >&2

# no Python in the guest, ever
if compgen -G "$ROOT/usr/bin/python3*" >/dev/null || compgen -G "$ROOT/usr/bin/python" >/dev/null; then
  die "python found in the tree: $(find "$ROOT"/usr/bin -maxdepth 1 -name 'python*' | tr '\n' ' ')"
fi

# ------------------------------------------------------------------ ostree repo
REPO=$WORK/out/repo
mkdir -p "$WORK/out"
ostree --repo="$REPO" init --mode=archive
ostree --repo="$REPO" config set archive.zlib-level 1   # commit is CPU-bound; size matters little
commit() {  # commit VERSION SUBJECT [extra --tree args...]
  local v=$1 subj=$2; shift 2
  ostree --repo="$REPO" commit --branch="$BRANCH" --subject="$subj" \
    --add-metadata-string=version="$v" --add-metadata-string=e2e.variant="$subj" \
    --timestamp="@$(( T0 + v ))" "$@" >/dev/null
  ostree --repo="$REPO" rev-parse "$BRANCH"
}
log "ostree commit v1"
C1=$(commit 1 "v1 base" --tree=dir="$ROOT")

OV=$WORK/overlays
mkdir -p "$OV/v2/usr/lib" "$OV/v3/usr/lib/systemd/system/multi-user.target.wants" \
         "$OV/v4/usr/lib/systemd/system/ssh.service.d" "$OV/v5/usr/lib/systemd"
echo 2 > "$OV/v2/usr/lib/e2e-version"
# v3 "unhealthy": boots, sshd works, but a unit fails (systemctl is-system-running = degraded)
echo 3 > "$OV/v3/usr/lib/e2e-version"
cat > "$OV/v3/usr/lib/systemd/system/e2e-broken.service" <<'EOF'
[Unit]
Description=e2e: fails on purpose (v3 "unhealthy" image)

[Service]
Type=oneshot
ExecStart=/bin/false

[Install]
WantedBy=multi-user.target
EOF
ln -s ../e2e-broken.service "$OV/v3/usr/lib/systemd/system/multi-user.target.wants/e2e-broken.service"
# v4 "unreachable": sshd never starts (condition can never be met)
echo 4 > "$OV/v4/usr/lib/e2e-version"
cat > "$OV/v4/usr/lib/systemd/system/ssh.service.d/e2e-unreachable.conf" <<'EOF'
[Unit]
# e2e: v4 "unreachable" image: sshd is disabled on purpose
ConditionPathExists=/nonexistent/e2e-sshd-disabled
EOF
# v5 "panics": the kernel and initramfs of v1, but the real root's init exits at once, so the kernel
# panics before userspace ("Attempted to kill init"); panic=10 (KARGS) makes it reboot.
echo 5 > "$OV/v5/usr/lib/e2e-version"
printf '%s\n' '#!/bin/sh' 'echo "e2e: v5 (panics) image: init exits on purpose" > /dev/console' 'exit 1' \
  > "$OV/v5/usr/lib/systemd/systemd"
chmod 0755 "$OV/v5/usr/lib/systemd/systemd"
log "ostree commit v2 v3 v4 v5"
C2=$(commit 2 "v2 update" --tree=ref="$C1" --tree=dir="$OV/v2")
C3=$(commit 3 "v3 unhealthy" --tree=ref="$C2" --tree=dir="$OV/v3")
C4=$(commit 4 "v4 unreachable" --tree=ref="$C1" --tree=dir="$OV/v4")
C5=$(commit 5 "v5 panics" --tree=ref="$C1" --tree=dir="$OV/v5")
# the branch must end at v1 for the initial deploy; the harness moves it
ostree --repo="$REPO" reset "$BRANCH" "$C1"
for v in 1 2 3 4 5; do c=C$v; ostree --repo="$REPO" refs --create="e2e/v$v" "${!c}"; done
ostree --repo="$REPO" summary -u >/dev/null

# ------------------------------------------------------------------ disk
DISK=$WORK/out/disk-v1.raw
log "partitioning $DISK ($DISK_SIZE)"
truncate -s "$DISK_SIZE" "$DISK"
parted -s "$DISK" mklabel msdos \
  mkpart primary ext4 1MiB 385MiB set 1 boot on \
  mkpart primary ext4 385MiB 100%
LOOP=$(losetup -f --show "$DISK")
partx -a "$LOOP"   # losetup -P creates no partition nodes in this sandbox
for _ in $(seq 50); do [ -b "${LOOP}p2" ] && break; sleep 0.1; done
[ -b "${LOOP}p2" ] || die "no partition nodes for $LOOP"
mkfs.ext4 -q -L e2e-boot "${LOOP}p1"
mkfs.ext4 -q -L e2e-root "${LOOP}p2"
mount "${LOOP}p2" "$MNT"
mkdir -p "$MNT/boot"
mount "${LOOP}p1" "$MNT/boot"

log "ostree admin init-fs / os-init / deploy v1"
ostree admin init-fs "$MNT" >/dev/null
ostree admin os-init --sysroot="$MNT" "$OSNAME" >/dev/null
SREPO=$MNT/ostree/repo
ostree --repo="$SREPO" remote add --no-gpg-verify "$REMOTE" "http://10.0.2.2:$REPO_PORT/repo" "$BRANCH"
ostree --repo="$SREPO" pull-local --remote="$REMOTE" "$REPO" "$BRANCH" >/dev/null

GRUB_MODULES="part_msdos ext2 search search_label gzio serial"
if [ "$BOOT_MENU" = grub-bls ]; then
  # The guest's own GRUB (the host's may have no blsuki module): its modules, the host's grub-install.
  log "grub-install (i386-pc, modules of the $SUITE tree)"
  grub-install --target=i386-pc --directory="$ROOT/usr/lib/grub/i386-pc" --boot-directory="$MNT/boot" \
    --modules="$GRUB_MODULES blsuki" "$LOOP" >&2
  # ostree writes the BLS entries only (/boot/loader -> loader.N/entries/ostree-N-debian.conf, the
  # default deployment with the highest version); GRUB's blscfg lists them newest version first
  # and boots the first one.
  ostree --repo="$SREPO" config set sysroot.bootloader none
  cat > "$MNT/boot/grub/grub.cfg" <<'EOF'
# tests/e2e/image/build.sh (grub-bls): the menu is ostree's Boot Loader Spec entries, read by blscfg
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
insmod part_msdos
insmod ext2
insmod gzio
insmod blsuki
search --no-floppy --label e2e-boot --set=root
blscfg
EOF
else
  log "grub-install (i386-pc)"
  grub-install --target=i386-pc --boot-directory="$MNT/boot" --modules="$GRUB_MODULES" "$LOOP" >&2
  # The presence of /boot/grub/grub.cfg makes ostree use its grub2 backend; it
  # then (re)generates /boot/loader.N/grub.cfg and flips the /boot/loader link.
  mkdir -p "$MNT/boot/loader.0"
  ln -sfn loader.0 "$MNT/boot/loader"
  : > "$MNT/boot/loader.0/grub.cfg"
  ln -sfn ../loader/grub.cfg "$MNT/boot/grub/grub.cfg"
fi
# GRUB's environment block: next_entry and saved_entry (the boot guard) live there.
[ -e "$MNT/boot/grub/grubenv" ] || grub-editenv "$MNT/boot/grub/grubenv" create

# console=ttyS0,115200 is one argument: the comma is part of it.
# shellcheck disable=SC2054
# panic=10: a kernel panic reboots after 10 s (into what GRUB boots next) instead of hanging.
KARGS=(root=LABEL=e2e-root rw console=ttyS0,115200 fsck.mode=skip panic=10
       "modprobe.blacklist=ahci,sr_mod,crc32_pclmul,crct10dif_pclmul,crc32c_intel,sha256_ssse3,kvm,kvm_amd,kvm_intel")
if [ "$COMPOSEFS" = yes ]; then
  # The initramfs has no prepare-root.conf (dracut ran before tree-fixup.sh wrote it): this karg makes
  # ostree-prepare-root mount the composefs image (and /sysroot read-only) on every boot; ostree admin
  # prepare-soft-reboot reads it from /proc/cmdline too.  ostree carries kargs over to new deployments.
  KARGS+=(ostree.prepare-root.composefs=1)
  # v1 must have its composefs image (.ostree.cfs) like every deployment the guest's ostree makes, or
  # the initramfs refuses to boot it; the host's ostree (2022.7 on bookworm) cannot write one, so the
  # tree's own ostree deploys, chrooted into the tree with the disk bind-mounted on its /sysroot (in a
  # private mount namespace: the mounts go when it exits).
  # shellcheck disable=SC2016
  unshare --mount --propagation private sh -ec '
    root=$1 mnt=$2; shift 2
    mount --rbind "$mnt" "$root/sysroot"
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    exec chroot "$root" /usr/bin/ostree admin deploy --sysroot=/sysroot "$@"' \
    sh "$ROOT" "$MNT" --os="$OSNAME" "${KARGS[@]/#/--karg=}" "$REMOTE:$BRANCH" >&2
else
  OSTREE_GRUB2_EXEC="$HERE/grub-gen.sh" ostree admin deploy --sysroot="$MNT" --os="$OSNAME" \
    "${KARGS[@]/#/--karg=}" "$REMOTE:$BRANCH" >&2
fi
ostree admin status --sysroot="$MNT" >&2
DEPLOY=$(ls -d "$MNT/ostree/deploy/$OSNAME/deploy/"*.0)
[ -e "$DEPLOY/usr/lib/e2e-version" ] || die "deployment incomplete"
if compgen -G "$DEPLOY/usr/bin/python3*" >/dev/null; then die "python in deployed tree"; fi
if [ "$COMPOSEFS" = yes ] && [ ! -s "$DEPLOY/.ostree.cfs" ]; then
  die "no composefs image (.ostree.cfs) in the v1 deployment"
fi
if [ "$BOOT_MENU" = grub-bls ]; then
  grep -qs "ostree=" "$MNT"/boot/loader/entries/*.conf || die "no BLS entry with ostree= in /boot/loader/entries"
else
  grep -q "ostree=" "$MNT/boot/loader/grub.cfg" || { cat "$MNT/boot/loader/grub.cfg" >&2; die "grub.cfg has no ostree entry"; }
fi

sync
umount "$MNT/boot"; umount "$MNT"
partx -d "$LOOP"; losetup -d "$LOOP"; LOOP=

# ------------------------------------------------------------------ publish
mv "$WORK/id_ed25519" "$WORK/id_ed25519.pub" "$WORK/out/"
chmod 600 "$WORK/out/id_ed25519"
cat > "$WORK/out/image.env" <<EOF
E2E_IMAGE_KEY=$KEY
E2E_BRANCH=$BRANCH
E2E_REMOTE=$REMOTE
E2E_OSNAME=$OSNAME
E2E_REPO_PORT=$REPO_PORT
E2E_REMOTE_URL=http://10.0.2.2:$REPO_PORT/repo
E2E_COMMIT_V1=$C1
E2E_COMMIT_V2=$C2
E2E_COMMIT_V3=$C3
E2E_COMMIT_V4=$C4
E2E_COMMIT_V5=$C5
E2E_KERNEL_ARGS="${KARGS[*]}"
E2E_GUEST=$GUEST
E2E_BOOT_MENU=$BOOT_MENU
EOF
touch "$WORK/out/.complete"
mv "$WORK/out" "$OUT"
ln -sfn "img-$KEY" "$CACHE/current"
# prune older images/rootfs tarballs unless a VM overlay still uses them
if [ -z "${E2E_KEEP_OLD_IMAGES:-}" ]; then
  for d in "$CACHE"/img-*; do
    [ "$d" = "$OUT" ] && continue
    grep -qsxF "$d" "$STATE_ROOT"/*/image && continue
    log "pruning old image $d"; rm -rf "$d"
  done
  for f in "$CACHE"/rootfs-*.tar; do [ "$f" = "$ROOTFS_TAR" ] || rm -f "$f"; done
fi
log "done: $(du -sh --apparent-size "$OUT/disk-v1.raw" | cut -f1) apparent, $(du -sh "$OUT" | cut -f1) on disk in $OUT"
echo "$OUT"
