#!/usr/bin/env bash
# Turn an mmdebstrap'ed Debian bookworm root directory into an OSTree-compatible
# tree (the "v1" content).  Runs on the build host, never inside the guest.
#
# usage: [E2E_COMPOSEFS=yes] tree-fixup.sh ROOTDIR AUTHORIZED_PUBKEY_FILE
#
# Expects the kernel+initramfs to already be in ROOTDIR/usr/lib/modules/$kver/
# (build.sh runs dracut in an mmdebstrap customize hook).
set -euo pipefail

R=${1:?rootdir}
PUBKEY=${2:?pubkey file}
[ -d "$R/usr/lib/modules" ] || { echo "tree-fixup: $R is not a root fs" >&2; exit 1; }

kver=$(find "$R/usr/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)
[ -f "$R/usr/lib/modules/$kver/initramfs.img" ] || { echo "tree-fixup: no initramfs for $kver" >&2; exit 1; }
if [ ! -f "$R/usr/lib/modules/$kver/vmlinuz" ]; then
  cp -a "$R/boot/vmlinuz-$kver" "$R/usr/lib/modules/$kver/vmlinuz"
fi
# /boot is the mount point of the separate boot partition: must be empty in the tree.
rm -rf "${R:?}"/boot/* "${R:?}"/vmlinuz* "${R:?}"/initrd.img*

# ---------------------------------------------------------------- /etc content
E=$R/etc
echo e2e-ostree > "$E/hostname"
cat > "$E/hosts" <<'EOF'
127.0.0.1 localhost
127.0.1.1 e2e-ostree
::1 localhost ip6-localhost ip6-loopback
EOF
cat > "$E/fstab" <<'EOF'
# <file system>  <mount point> <type> <options> <dump> <pass>
LABEL=e2e-boot   /boot         ext4   defaults  0      0
EOF
# A fixed machine-id per build: an empty one would trigger systemd "first boot"
# presets, which could re-enable/disable units behind the tests' back.
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$E/machine-id"; echo >> "$E/machine-id"

# networking: systemd-networkd, DHCP on the (virtio) NIC
mkdir -p "$E/systemd/network"
cat > "$E/systemd/network/20-e2e-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
EOF
systemctl --root="$R" enable systemd-networkd.service >/dev/null 2>&1
# no apt timers etc. in an image-based system
systemctl --root="$R" disable apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer systemd-pstore.service getty@tty1.service >/dev/null 2>&1 || true

# Units that only cost boot time under TCG (each is seconds there).
systemctl --root="$R" mask modprobe@drm.service modprobe@dm_mod.service modprobe@loop.service \
  modprobe@fuse.service modprobe@configfs.service dev-hugepages.mount dev-mqueue.mount \
  sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount \
  sys-kernel-config.mount >/dev/null 2>&1

# sshd: key-only root login; keys live in /etc (i.e. in the tree's /usr/etc) so
# every deployment has them, independent of /var/roothome.
mkdir -p "$E/ssh/sshd_config.d" "$E/ssh/authorized_keys"
cat > "$E/ssh/sshd_config.d/10-e2e.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile /etc/ssh/authorized_keys/%u .ssh/authorized_keys
UseDNS no
EOF
install -m 0644 "$PUBKEY" "$E/ssh/authorized_keys/root"

# GRUB: used by `grub-mkconfig` *inside the guest* (ostree runs it on every
# deployment change; /etc/grub.d/15_ostree from ostree-boot emits the entries).
# GRUB_DEFAULT=saved, as on Fedora: with no saved entry GRUB boots the first (newest) deployment; the
# boot guard (osimage.lifecycle.boot_guard) sets next_entry and saved_entry to boot a new image once.
mkdir -p "$E/default"
cat > "$E/default/grub" <<'EOF'
GRUB_DEFAULT=saved
# No one picks an entry by hand: the default (or the guard's next_entry) boots at once, a second sooner
GRUB_TIMEOUT=0
GRUB_TIMEOUT_STYLE=menu
GRUB_DISTRIBUTOR=Debian-e2e
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX=""
GRUB_TERMINAL="serial console"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
GRUB_DISABLE_RECOVERY=true
GRUB_DISABLE_SUBMENU=y
EOF
# Only the header and the ostree entries; 10_linux would find nothing useful.
for f in 05_debian_theme 10_linux 20_linux_xen 30_os-prober 30_uefi-firmware 41_custom; do
  [ -e "$E/grub.d/$f" ] && chmod a-x "$E/grub.d/$f"
done

# ---------------------------------------------------------------- OSTree layout
# version marker read by the tests
echo 1 > "$R/usr/lib/e2e-version"

# E2E_COMPOSEFS=yes (the sid guest, tests/e2e/guest.sh): the deployment's composefs image is the root and
# /sysroot is read-only.  ostree reads this file from the deployment when it deploys and when it prepares
# a soft reboot into it (`ostree admin prepare-soft-reboot` refuses unless composefs is `yes`); the
# initramfs is built before this file exists, so the karg ostree.prepare-root.composefs=1 (build.sh)
# says the same to ostree-prepare-root at boot.
if [ "${E2E_COMPOSEFS:-no}" = yes ]; then
  mkdir -p "$R/usr/lib/ostree"
  cat > "$R/usr/lib/ostree/prepare-root.conf" <<'EOF'
[composefs]
enabled = yes

[sysroot]
readonly = true
EOF
fi

# /var is per-OS state owned by the deployment, populated at boot by tmpfiles.
cat > "$R/usr/lib/tmpfiles.d/e2e-ostree.conf" <<'EOF'
d /var/home 0755 root root -
d /var/roothome 0700 root root -
d /var/opt 0755 root root -
d /var/srv 0755 root root -
d /var/mnt 0755 root root -
d /var/usrlocal 0755 root root -
d /var/usrlocal/bin 0755 root root -
d /var/usrlocal/sbin 0755 root root -
d /var/usrlocal/lib 0755 root root -
d /var/usrlocal/share 0755 root root -
d /var/lib/dbus 0755 root root -
L /var/lib/dbus/machine-id - - - - /etc/machine-id
d /var/lib/private 0700 root root -
d /var/cache/private 0700 root root -
d /var/log/private 0700 root root -
d /var/tmp 1777 root root -
d /var/spool/mail 2775 root mail -
L /var/mail - - - - spool/mail
L /var/lock - - - - ../run/lock
EOF

rm -rf "${R:?}/var"
mkdir -m 0755 "$R/var"
for d in home opt srv mnt; do rm -rf "${R:?}/$d"; ln -s "var/$d" "$R/$d"; done
rm -rf "$R/root"; ln -s var/roothome "$R/root"
rm -rf "${R:?}/media"; ln -s run/media "$R/media"
rm -rf "${R:?}/usr/local"; ln -s ../var/usrlocal "$R/usr/local"
mkdir -p "$R/sysroot"
rm -rf "$R/ostree"; ln -s sysroot/ostree "$R/ostree"
# API filesystems: empty mount points (ostree commit refuses device nodes).
for d in dev proc sys run tmp boot; do rm -rf "${R:?}/$d"; mkdir "$R/$d"; done
chmod 1777 "$R/tmp"

# /etc -> /usr/etc (ostree's default config; /etc is the 3-way merge of it)
rm -f "$E/resolv.conf"
echo "nameserver 10.0.2.3" > "$E/resolv.conf"   # qemu user-net DNS (unused by tests)
rm -rf "$R/usr/etc"
mv "$E" "$R/usr/etc"

# anything ostree cannot store
bad=$(find "$R" -xdev \( -type b -o -type c -o -type p -o -type s \) | head -n5)
[ -z "$bad" ] || { echo "tree-fixup: special files left: $bad" >&2; exit 1; }
echo "tree-fixup: ok (kernel $kver)"
