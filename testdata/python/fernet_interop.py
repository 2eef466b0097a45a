#!/usr/bin/env python3
"""Fernet interop helper for authix's Go tests.

It plays the Python side of a service running fastapi-authix: tokens are
Fernet tokens from the `cryptography` package over a JSON object, compact
and UTF-8 like orjson.dumps (which fastapi-authix uses), and are opened with
Fernet(key).decrypt(token, ttl=...), or MultiFernet when several keys are
given (the first seals, all open).

Commands are JSON objects. With an argument, the script runs that one
command and prints its result; without, it reads one command per line on
stdin and writes one result per line on stdout, so a test can keep a single
interpreter running. Every result is a JSON object; failures are
{"error": "..."} and never stop the loop.

    {"op": "generate_key"}
        -> {"key": "..."}                  Fernet.generate_key()
    {"op": "check_key", "key": "..."}
        -> {"ok": true}                    Fernet(key) accepts the key
    {"op": "seal", "keys": [...], "payload": {...}, "at": 1700000000, "ascii": false}
        -> {"token": "..."}                encrypt, or encrypt_at_time with "at";
                                           "ascii": true escapes non-ASCII as json.dumps does
    {"op": "open", "keys": [...], "token": "...", "ttl": 3600, "now": 1700000000}
        -> {"payload": {...}, "plaintext": "...", "issued_at": 1700000000}
                                           decrypt, or decrypt_at_time with "now"
        -> {"error": "InvalidToken"}       wrong key, tampered or expired
"""

import json
import sys

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def cipher(keys):
    if not isinstance(keys, list) or not keys:
        raise ValueError("keys must be a non-empty list")
    fernets = [Fernet(k) for k in keys]
    if len(fernets) == 1:
        return fernets[0]
    return MultiFernet(fernets)


def issued_at(keys, token):
    # MultiFernet.extract_timestamp is missing from older cryptography
    # releases (Debian 12 ships 38), so ask each key in turn.
    for k in keys:
        try:
            return Fernet(k).extract_timestamp(token)
        except InvalidToken:
            continue
    raise InvalidToken


def handle(cmd):
    if not isinstance(cmd, dict):
        raise ValueError("a command is a JSON object")
    op = cmd.get("op")
    if op == "generate_key":
        return {"key": Fernet.generate_key().decode("ascii")}
    if op == "check_key":
        Fernet(cmd["key"])
        return {"ok": True}
    if op == "seal":
        payload = cmd["payload"]
        if not isinstance(payload, dict):
            raise ValueError("payload must be a JSON object, as fastapi-authix seals")
        # "ascii": json.dumps's default, which writes a lone surrogate as
        # "\ud800" where UTF-8 cannot carry it.
        ascii_only = bool(cmd.get("ascii", False))
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=ascii_only).encode("utf-8")
        f = cipher(cmd["keys"])
        if "at" in cmd:
            token = f.encrypt_at_time(data, int(cmd["at"]))
        else:
            token = f.encrypt(data)
        return {"token": token.decode("ascii")}
    if op == "open":
        token = cmd["token"].encode("ascii")
        f, ttl = cipher(cmd["keys"]), int(cmd.get("ttl", 3600))
        try:
            if "now" in cmd:
                plain = f.decrypt_at_time(token, ttl, int(cmd["now"]))
            else:
                plain = f.decrypt(token, ttl=ttl)
            ts = issued_at(cmd["keys"], token)
        except InvalidToken:
            return {"error": "InvalidToken"}
        text = plain.decode("utf-8")
        return {"payload": json.loads(text), "plaintext": text, "issued_at": ts}
    raise ValueError("unknown op %r" % (op,))


def run(line):
    try:
        return handle(json.loads(line))
    except Exception as e:  # reported to the Go test, never fatal
        return {"error": "%s: %s" % (type(e).__name__, e)}


def main():
    if len(sys.argv) > 1:
        print(json.dumps(run(sys.argv[1]), ensure_ascii=False))
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        sys.stdout.write(json.dumps(run(line), ensure_ascii=False) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
