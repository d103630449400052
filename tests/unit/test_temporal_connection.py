"""Connecting to a real cluster: a local dev server needs nothing, Temporal Cloud an API key over TLS, an mTLS
cluster a client certificate (and its own CA when it has one). Wrong halves are refused at start-up."""

from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.service import TLSConfig

from hub.runtime.settings import TemporalSettings
from hub.runtime.temporal import security


def test_a_local_dev_server_needs_no_credentials() -> None:
    assert security(TemporalSettings()) == {}


def test_temporal_cloud_with_an_api_key_uses_tls() -> None:
    options = security(TemporalSettings(address="ns.acct.tmprl.cloud:7233", api_key="key-123"))
    assert options == {"api_key": "key-123", "tls": True}


def test_mtls_reads_the_certificate_key_and_ca_files(tmp_path: Path) -> None:
    for name in ("client.pem", "client.key", "ca.pem"):
        (tmp_path / name).write_bytes(f"-----{name}-----".encode())
    temporal = TemporalSettings(
        tls_cert_file=tmp_path / "client.pem",
        tls_key_file=tmp_path / "client.key",
        tls_server_ca_file=tmp_path / "ca.pem",
    )
    tls = security(temporal)["tls"]
    assert isinstance(tls, TLSConfig)
    assert (tls.client_cert, tls.client_private_key, tls.server_root_ca_cert) == (
        b"-----client.pem-----",
        b"-----client.key-----",
        b"-----ca.pem-----",
    )


def test_a_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="go together"):
        TemporalSettings(tls_cert_file=tmp_path / "client.pem")
