"""Password hashes made by their reference implementations, for latchkey's import tests.

Usage: make_hashes.py OUT_DIR. Writes OUT_DIR/users.jsonl (latchkey's JSON lines: bcrypt
from `bcrypt`, argon2id from `argon2-cffi`, scrypt and PBKDF2-SHA256 from `hashlib` in
PHC and passlib forms, Firebase's scrypt) and OUT_DIR/firebase.json (a Firebase Auth
export hashed with a random signer key, as `firebase auth:export` writes it), and prints
the Firebase project's parameters and every user's login, password and id as JSON.
"""

import base64
import hashlib
import json
import os
import sys

import argon2
import bcrypt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def b64(b):
    return base64.b64encode(b).decode()


def b64_nopad(b):
    return b64(b).rstrip("=")


def firebase_hash(password, salt, key, sep, rounds=8, mem_cost=14):
    """Firebase's modified scrypt (github.com/firebase/scrypt)."""
    derived = hashlib.scrypt(
        password.encode(), salt=salt + sep, n=2**mem_cost, r=rounds, p=1, dklen=32,
        maxmem=2**26,
    )
    enc = Cipher(algorithms.AES(derived), modes.CTR(b"\0" * 16)).encryptor()
    return enc.update(key) + enc.finalize()


def main():
    out = sys.argv[1]
    users, facts = [], []

    def add(kind, password, hashed):
        uid = f"imported-{kind}"
        users.append({"id": uid, "email": f"{kind}@import.example", "username": kind,
                      "display_name": kind.title(), "password_hash": hashed})
        facts.append({"login": kind, "password": password, "id": uid, "kind": kind})

    add("bcrypt", "bcrypt passphrase", bcrypt.hashpw(b"bcrypt passphrase", bcrypt.gensalt(4)).decode())
    add("argon", "argon passphrase",
        argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("argon passphrase"))
    s = os.urandom(16)
    h = hashlib.scrypt(b"scrypt passphrase", salt=s, n=2**11, r=8, p=1, dklen=32)
    add("scrypt", "scrypt passphrase", f"$scrypt$ln=11,r=8,p=1${b64_nopad(s)}${b64_nopad(h)}")
    s = os.urandom(16)
    h = hashlib.pbkdf2_hmac("sha256", b"pbkdf2 passphrase", s, 1000)
    add("pbkdf", "pbkdf2 passphrase", f"$pbkdf2-sha256$i=1000,l=32${b64_nopad(s)}${b64_nopad(h)}")
    s = os.urandom(16)
    h = hashlib.pbkdf2_hmac("sha256", b"passlib passphrase", s, 2000)
    ab64 = lambda b: b64_nopad(b).replace("+", ".")
    add("passlib", "passlib passphrase", f"$pbkdf2-sha256$2000${ab64(s)}${ab64(h)}")
    key, sep, s = os.urandom(64), os.urandom(1), os.urandom(12)
    h = firebase_hash("firebase passphrase", s, key, sep)
    add("fbline", "firebase passphrase",
        f"$firebase-scrypt$hash={b64(h)}$salt={b64(s)}$sk={b64(key)}$ss={b64(sep)}$r=8$m=14")
    with open(os.path.join(out, "users.jsonl"), "w") as f:
        for u in users:
            f.write(json.dumps(u) + "\n")

    # A Firebase project: one signer key and separator for all its users.
    key, sep = os.urandom(64), os.urandom(1)
    export = []
    for i, name in enumerate(["fiona", "felix"]):
        s = os.urandom(12)
        password = f"{name} firebase password"
        export.append({
            "localId": f"fb{i}Z9xQ2kLmN8pR4tV6wY1aB3cD",
            "email": f"{name}@firebase.example", "emailVerified": i == 0,
            "passwordHash": b64(firebase_hash(password, s, key, sep)), "salt": b64(s),
            "displayName": name.title(), "createdAt": "1486324137000",
            "lastSignedInAt": "1486324137001", "disabled": False,
            "providerUserInfo": [{"providerId": "password", "email": f"{name}@firebase.example"}],
        })
        facts.append({"login": f"{name}@firebase.example", "password": password,
                      "id": export[-1]["localId"], "kind": "firebase"})
    # A phone-only account: nothing to sign in with here.
    export.append({"localId": "phoneOnlyUser000000000000001", "phoneNumber": "+15555550100",
                   "providerUserInfo": []})
    with open(os.path.join(out, "firebase.json"), "w") as f:
        json.dump({"users": export}, f, indent=2)
    print(json.dumps({"hash_key": b64(key), "salt_separator": b64(sep), "rounds": 8,
                      "mem_cost": 14, "users": facts}))


main()
