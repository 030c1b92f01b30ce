"""Credentials: the vault (AES-GCM), keys, masking, types, rotation (`flowbox rotate-key`)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from support import Harness

from flowbox import credentials as cr
from flowbox.cli import main
from flowbox.credential_vault import resolver
from flowbox.errors import ConfigError, CredentialError
from flowbox.settings import Settings
from flowbox.store.sqlite import SqliteStore

SECRET = "s3cr3t-\u00e9-value-0123456789"


def vault() -> cr.Vault:
    return cr.Vault(os.urandom(32))


def test_round_trip_and_random_nonces() -> None:
    v = vault()
    data = {"name": "X-Api-Key", "value": SECRET}
    blobs = [v.encrypt(data, "cred1") for _ in range(50)]
    assert all(v.decrypt(b, "cred1") == data for b in blobs)
    nonces = {b[cr.HEADER_LEN:cr.HEADER_LEN + cr.NONCE_LEN] for b in blobs}
    assert len(nonces) == 50 and len(set(blobs)) == 50
    assert all(b.startswith(cr.MAGIC + v.key_id) for b in blobs)
    assert all(SECRET.encode() not in b for b in blobs)


def test_wrong_key_tampering_and_moved_blobs_fail_clearly() -> None:
    v, other = vault(), vault()
    blob = v.encrypt({"token": SECRET}, "cred1")
    with pytest.raises(CredentialError, match="another key"):
        other.decrypt(blob, "cred1")
    with pytest.raises(CredentialError, match="altered or belongs to another record"):
        v.decrypt(blob, "cred2")  # the id is associated data: a blob cannot move to another row
    flipped = bytearray(blob)
    flipped[-1] ^= 1
    with pytest.raises(CredentialError, match="altered"):
        v.decrypt(bytes(flipped), "cred1")
    with pytest.raises(CredentialError, match="format"):
        v.decrypt(b'{"token": "plain"}', "cred1")
    assert SECRET not in repr(v)


def test_old_keys_decrypt_and_reencrypt() -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    old, new = cr.Vault(old_key), cr.Vault(new_key, old_keys=[old_key])
    blob = old.encrypt({"token": SECRET}, "c")
    assert new.decrypt(blob, "c") == {"token": SECRET}
    again = old.reencrypt(blob, "c", cr.Vault(new_key))
    assert again[len(cr.MAGIC):cr.HEADER_LEN] == new.key_id
    with pytest.raises(CredentialError):
        old.decrypt(again, "c")


def test_keys_from_env_and_key_file(tmp_path: Path) -> None:
    raw = os.urandom(32)
    for text in (base64.urlsafe_b64encode(raw).decode(), base64.b64encode(raw).decode(),
                 base64.urlsafe_b64encode(raw).decode().rstrip("=")):
        assert cr.parse_key(text) == raw
    phrase = cr.parse_key("correct horse battery staple")  # scrypt: the same passphrase, the same key
    assert len(phrase) == 32 and phrase == cr.parse_key("correct horse battery staple")
    with pytest.raises(ConfigError, match="at least 16"):
        cr.parse_key("short")

    env_vault = cr.Vault.from_settings(tmp_path / "a", {cr.KEY_ENV: base64.b64encode(raw).decode()})
    assert env_vault.key_id == cr.key_id(raw) and not (tmp_path / "a" / cr.KEY_FILE).exists()

    first = cr.Vault.from_settings(tmp_path / "b", {})
    path = tmp_path / "b" / cr.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cr.Vault.from_settings(tmp_path / "b", {}).key_id == first.key_id  # reused, not replaced
    assert len(cr.parse_key(path.read_text())) == 32


def test_mask_merge_validate_and_secret_repr() -> None:
    basic = cr.get_type("httpBasicAuth")
    assert cr.mask({"user": "ann", "password": SECRET}, basic) == {"user": "ann", "password": cr.MASK}
    assert cr.mask({"user": "ann", "password": ""}, "httpBasicAuth")["password"] == ""
    kept = cr.merge({"user": "bob", "password": cr.MASK}, {"user": "ann", "password": SECRET}, basic)
    assert kept == {"user": "bob", "password": SECRET}
    assert cr.merge({"user": "bob", "password": "new"}, {"password": SECRET}, basic)["password"] == "new"
    with pytest.raises(CredentialError) as err:
        basic.validate({"user": "ann"})
    assert err.value.details["field"] == "data.password"
    with pytest.raises(CredentialError) as err:
        basic.validate({"user": "ann", "password": "x", "extra": 1})
    assert err.value.details["field"] == "data.extra"
    with pytest.raises(CredentialError, match="unknown credential type"):
        cr.get_type("nope")

    revealed = cr.reveal({"user": "ann", "password": SECRET}, basic)
    assert revealed["password"] == SECRET and f"{revealed['password']}" == SECRET
    assert SECRET not in repr(revealed) and "ann" in repr(revealed)


def test_types_sign_requests() -> None:
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    cr.get_type("httpHeaderAuth").sign_request({"name": "X-Key", "value": "v"}, headers, query)
    cr.get_type("httpQueryAuth").sign_request({"name": "api_key", "value": "q"}, headers, query)
    assert headers == {"X-Key": "v"} and query == {"api_key": "q"}
    cr.get_type("httpBasicAuth").sign_request({"user": "u", "password": "p"}, headers, query)
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    cr.get_type("httpBearerAuth").sign_request({"token": "t"}, headers, query)
    assert headers["Authorization"] == "Bearer t"
    schema = {t["name"]: t for t in (cr.TYPES[n].to_dict() for n in cr.TYPES)}
    assert {"httpHeaderAuth", "httpBasicAuth", "httpBearerAuth", "httpQueryAuth", "oAuth2Api"} <= set(schema)
    assert [f["name"] for f in schema["httpBasicAuth"]["fields"] if f["secret"]] == ["password"]


def test_services_crud_masks_and_rotate_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cr.KEY_ENV, raising=False)
    data_dir = tmp_path / "data"
    settings = Settings.load(data_dir)

    async def create() -> str:
        services = Harness(settings, SqliteStore(data_dir / "flowbox.db"))
        await services.store.open()
        try:
            made = await services.create_credential("API", "httpHeaderAuth", {"name": "X-Key", "value": SECRET})
            assert made["data"] == {"name": "X-Key", "value": cr.MASK}
            updated = await services.update_credential(made["id"], data={"name": "X-Other", "value": cr.MASK})
            assert updated["data"] == {"name": "X-Other", "value": cr.MASK}
            lookup = resolver(services.store, services.vault)
            assert (await lookup("httpHeaderAuth", made["id"]))["value"] == SECRET  # the mask kept the secret
            with pytest.raises(CredentialError, match="is a httpHeaderAuth credential, but the node uses it as "
                                                      "httpBasicAuth"):
                await lookup("httpBasicAuth", made["id"])
            with pytest.raises(CredentialError, match="not found"):
                await lookup("httpBasicAuth", "missing")
            listed = (await services.list_credentials()).data
            assert SECRET not in repr(listed) and listed[0]["data"]["value"] == cr.MASK
            return made["id"]
        finally:
            await services.store.close()

    cred_id = asyncio.run(create())
    key_path = data_dir / cr.KEY_FILE
    old_key = key_path.read_text()
    old_blob = asyncio.run(_blob(data_dir, cred_id))

    main(["rotate-key", "--data-dir", str(data_dir)])
    assert key_path.read_text() != old_key and stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert not (data_dir / cr.NEW_KEY_FILE).exists()
    new_blob = asyncio.run(_blob(data_dir, cred_id))
    assert new_blob != old_blob
    fresh = cr.Vault.from_settings(data_dir, {})
    assert fresh.decrypt(new_blob, cred_id) == {"name": "X-Other", "value": SECRET}
    with pytest.raises(CredentialError, match="another key"):
        fresh.decrypt(old_blob, cred_id)
    with sqlite3.connect(data_dir / "flowbox.db") as conn:
        rotated = conn.execute("SELECT actor, details FROM audit WHERE action = 'credential.rotate_key'").fetchall()
    assert [(actor, json.loads(details)["count"]) for actor, details in rotated] == [("cli", 1)]

    # with FLOWBOX_ENCRYPTION_KEY: the new key is given, no key file is written
    monkeypatch.setenv(cr.KEY_ENV, key_path.read_text().strip())
    passphrase = "a long enough passphrase for tests"
    main(["rotate-key", "--new-key", passphrase, "--data-dir", str(data_dir)])
    assert cr.Vault(cr.parse_key(passphrase)).decrypt(asyncio.run(_blob(data_dir, cred_id)), cred_id)["value"] == SECRET


async def _blob(data_dir: Path, cred_id: str) -> bytes:
    store = SqliteStore(data_dir / "flowbox.db")
    await store.open()
    try:
        return (await store.get_credential(cred_id)).data
    finally:
        await store.close()
