"""Parse a received message with Python's own MIME parser.

usage: read_mail.py FILE -> JSON {"subject","from","to","text","html"} on stdout.
Fails if the message is not well-formed multipart/alternative with a text part.
"""
import email
import email.policy
import json
import sys

with open(sys.argv[1], "rb") as f:
    msg = email.message_from_binary_file(f, policy=email.policy.strict)
text = msg.get_body(preferencelist=("plain",))
html = msg.get_body(preferencelist=("html",))
assert text is not None, "no text/plain part"
print(json.dumps({
    "subject": str(msg["subject"]),
    "from": str(msg["from"]),
    "to": str(msg["to"]),
    "date": str(msg["date"]),
    "text": text.get_content(),
    "html": html.get_content() if html is not None else None,
}))
