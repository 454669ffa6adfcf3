"""The MQTT 5 connection: mutual TLS (1.2 or newer) and one clear line for each way it fails.

    unreachable broker    -> "cannot reach the broker at host:port (...)"
    rejected certificate  -> the broker's is not from mqtt.ca_file, or the broker refused ours
    expired certificate   -> ours (checked before connecting) or the broker's
    refused connection    -> CONNACK with a failure reason (e.g. Not authorized)
"""
from __future__ import annotations

import socket
import ssl
from datetime import datetime, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography import x509

from ..config import MqttConfig
from ..errors import PublishError

# OpenSSL alert names the broker sends when it refuses our certificate.
_PEER_EXPIRED = ("ALERT_CERTIFICATE_EXPIRED", "alert certificate expired")
_PEER_REJECTED = ("ALERT_UNKNOWN_CA", "ALERT_BAD_CERTIFICATE", "CERTIFICATE_REQUIRED", "ALERT_CERTIFICATE_UNKNOWN",
                  "ALERT_HANDSHAKE_FAILURE", "ALERT_ACCESS_DENIED", "alert unknown ca", "alert bad certificate",
                  "certificate required")


def check_client_certificate(cfg: MqttConfig, now: datetime | None = None) -> None:
    """Files present and our certificate within its validity, before any network traffic."""
    for key, path in (("mqtt.ca_file", cfg.ca_file), ("mqtt.cert_file", cfg.cert_file), ("mqtt.key_file", cfg.key_file)):
        if not Path(path).is_file():
            raise PublishError(f"{key}: {path} not found; provision this box's TLS files or fix the path")
    try:
        cert = x509.load_pem_x509_certificate(Path(cfg.cert_file).read_bytes())
    except (ValueError, OSError):
        raise PublishError(f"mqtt.cert_file: {cfg.cert_file} is not a PEM certificate; provision the device certificate") from None
    now = now or datetime.now(timezone.utc)
    if cert.not_valid_after_utc < now:
        raise PublishError(f"mqtt.cert_file: this device's certificate expired on "
                           f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; ask IT for a new device certificate")
    if cert.not_valid_before_utc > now:
        raise PublishError(f"mqtt.cert_file: this device's certificate is not valid before "
                           f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC; check the box's clock")


def tls_context(cfg: MqttConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3 if cfg.tls_version == "1.3" else ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_verify_locations(cfg.ca_file)
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    except (ssl.SSLError, OSError) as e:
        raise PublishError(f"mqtt: cannot load the TLS files ({e.__class__.__name__}: {getattr(e, 'reason', None) or e}); "
                           "check that mqtt.cert_file and mqtt.key_file belong together and mqtt.ca_file is a PEM CA") from None
    if cfg.verify_server:
        ctx.check_hostname, ctx.verify_mode = True, ssl.CERT_REQUIRED
    else:  # a lab broker only: still encrypted, but anyone could pose as the broker
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return ctx


def new_client(cfg: MqttConfig, client_id: str) -> mqtt.Client:
    check_client_certificate(cfg)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.tls_set_context(tls_context(cfg))
    client.tls_insecure_set(not cfg.verify_server)
    client.enable_logger(None)
    return client


def explain_connect_error(e: BaseException, cfg: MqttConfig) -> PublishError:
    """One line for a failure of the TCP connection or the TLS handshake."""
    where = f"{cfg.host}:{cfg.port}"
    if isinstance(e, ssl.SSLCertVerificationError):
        code = getattr(e, "verify_code", 0)
        if code == 10:
            return PublishError(f"the broker at {where} presented an expired certificate; renew the broker's certificate")
        if code == 62 or "hostname" in str(e).lower() or "IP address mismatch" in str(e):
            return PublishError(f"the broker's certificate is not for {cfg.host}; set mqtt.host to the name in its certificate")
        return PublishError(f"the broker's certificate at {where} was rejected ({getattr(e, 'verify_message', e)}); "
                            "check that mqtt.ca_file is the CA that signed it")
    text = str(e)
    if isinstance(e, ssl.SSLError) or "alert" in text.lower():
        return explain_peer_alert(text, cfg) or PublishError(
            f"TLS with the broker at {where} failed ({getattr(e, 'reason', None) or text}); "
            f"check mqtt.tls_version ({cfg.tls_version}) and the broker's TLS settings")
    if isinstance(e, (ConnectionRefusedError, socket.timeout, TimeoutError, socket.gaierror, OSError)):
        reason = e.strerror if isinstance(e, OSError) and e.strerror else e.__class__.__name__
        return PublishError(f"cannot reach the broker at {where} ({reason}); check mqtt.host, mqtt.port and the "
                            "network; notes wait in the outbox")
    return PublishError(f"cannot connect to the broker at {where} ({e.__class__.__name__}); notes wait in the outbox")


def explain_peer_alert(text: str, cfg: MqttConfig) -> PublishError | None:
    """The broker closed TLS with an alert about our certificate (with TLS 1.3 it comes after the handshake)."""
    if any(a in text for a in _PEER_EXPIRED):
        return PublishError(f"the broker rejected this device's certificate as expired; ask IT for a new one "
                            f"({cfg.cert_file})")
    if any(a in text for a in _PEER_REJECTED):
        return PublishError(f"the broker rejected this device's certificate; check that the broker trusts the CA "
                            f"that signed {cfg.cert_file}")
    return None


def explain_connack(reason: mqtt.ReasonCode | object, cfg: MqttConfig) -> PublishError:
    return PublishError(f"the broker at {cfg.host}:{cfg.port} refused the connection ({reason}); check that the "
                        "broker allows this device's certificate (users, ACL)")
