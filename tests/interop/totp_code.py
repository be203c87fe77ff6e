"""An authenticator app in a script: the TOTP code of an otpauth:// URL (pyotp).

usage: totp_code.py OTPAUTH_URL [UNIX_TIME] -> the code on stdout.
       totp_code.py --raw BASE32_SECRET      -> the secret's bytes in hex.
"""
import base64
import sys
import time

import pyotp

if sys.argv[1] == "--raw":
    print(base64.b32decode(sys.argv[2]).hex())
    sys.exit(0)
totp = pyotp.parse_uri(sys.argv[1])
at = int(sys.argv[2]) if len(sys.argv) > 2 else int(time.time())
print(totp.at(at))
