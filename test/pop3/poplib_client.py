"""A full POP3 session with Python's poplib, driven by test/pop3/clients.test.ts.

Usage: poplib_client.py HOST PORT MODE USER PASSWORD ACTION
  MODE: stls (plain port, then STLS) or ssl (implicit TLS)
  ACTION: read  - STAT, LIST, UIDL, TOP, RETR all; print JSON
          dele1 - DELE 1 then QUIT
          dele1_drop - DELE 1 then drop the connection without QUIT
          dele1_rset - DELE 1, RSET, QUIT
"""
import base64
import json
import poplib
import ssl
import sys

host, port, mode, user, password, action = sys.argv[1:7]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

if mode == "ssl":
    p = poplib.POP3_SSL(host, int(port), context=ctx, timeout=10)
else:
    p = poplib.POP3(host, int(port), timeout=10)
    caps_before = p.capa()
    p.stls(context=ctx)

out = {"welcome": p.getwelcome().decode()}
out["capa"] = sorted(p.capa().keys())
p.user(user)
p.pass_(password)

if action == "read":
    count, size = p.stat()
    out["stat"] = [count, size]
    out["list"] = [line.decode() for line in p.list()[1]]
    out["uidl"] = [line.decode() for line in p.uidl()[1]]
    out["top"] = [line.decode("latin1") for line in p.top(1, 2)[1]]
    msgs = []
    for i in range(1, count + 1):
        resp, lines, octets = p.retr(i)
        # poplib strips the CRLFs and undoes dot-stuffing; rebuild the bytes.
        msgs.append(base64.b64encode(b"\r\n".join(lines) + b"\r\n").decode())
    out["messages"] = msgs
    p.quit()
elif action == "dele1":
    p.dele(1)
    out["quit"] = p.quit().decode()
elif action == "dele1_drop":
    p.dele(1)
    p.sock.close()
elif action == "dele1_rset":
    p.dele(1)
    p.rset()
    p.quit()
print(json.dumps(out))
