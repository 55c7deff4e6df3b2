"""A mail-client day with Python's imaplib, driven by test/imap/clients.test.ts.

Usage: imaplib_client.py HOST PORT MODE USER PASSWORD SENT_FILE
  MODE: starttls (plain port, then STARTTLS) or ssl (implicit TLS)
  SENT_FILE: a raw message to APPEND to Sent

Prints one JSON object: each step's raw results (strings are latin1, literals base64),
so the test asserts on exactly what the server sent. Any failure prints {"error": ...}.
"""
import base64
import json
import re
import ssl
import sys
import time
import traceback

import imaplib

host, port, mode, user, password, sent_file = sys.argv[1:7]
port = int(port)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = {}


def connect():
    if mode == "ssl":
        m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=60)
    else:
        m = imaplib.IMAP4(host, port, timeout=60)
        out.setdefault("caps_plain", sorted(m.capabilities))
        m.starttls(ssl_context=ctx)
    return m


def flat(data):
    """imaplib response data as a list of latin1 strings (tuples joined)."""
    res = []
    for d in data:
        if d is None:
            continue
        if isinstance(d, tuple):
            res.append(b"".join(d).decode("latin1"))
        else:
            res.append(d.decode("latin1"))
    return res


def literals(data):
    """The literal payloads in imaplib response data, base64-encoded."""
    return [base64.b64encode(d[1]).decode() for d in data if isinstance(d, tuple)]


def ok(typ_data, what):
    typ, data = typ_data
    if typ != "OK":
        raise RuntimeError("%s: %s %r" % (what, typ, data))
    return data


def search(m, *criteria):
    data = ok(m.uid("SEARCH", *criteria), "SEARCH %r" % (criteria,))
    return [int(x) for x in b" ".join(d for d in data if d).split()]


try:
    m = connect()
    out["caps"] = sorted(m.capabilities)
    ok(m.login(user, password), "LOGIN")

    # Folders with their special-use attributes.
    out["list"] = flat(ok(m.list('""', "*"), "LIST"))

    # Open the Inbox; envelopes and structures of every message.
    out["exists"] = int(ok(m.select("INBOX"), "SELECT")[0])
    out["envelopes"] = flat(ok(m.fetch("1:*", "(UID FLAGS ENVELOPE BODYSTRUCTURE)"), "FETCH ENVELOPE"))

    # One whole message and one attachment part, byte-exact; a partial fetch.
    out["body1"] = literals(ok(m.uid("FETCH", "1", "(BODY.PEEK[])"), "FETCH BODY[]"))
    out["part3_2"] = literals(ok(m.uid("FETCH", "3", "(BODY.PEEK[2])"), "FETCH BODY[2]"))
    out["mime3_2"] = literals(ok(m.uid("FETCH", "3", "(BODY.PEEK[2.MIME])"), "FETCH BODY[2.MIME]"))
    partial = ok(m.uid("FETCH", "1", "(BODY.PEEK[]<10.100>)"), "FETCH partial")
    out["partial"] = {"text": flat(partial), "data": literals(partial)}
    out["text4"] = literals(ok(m.uid("FETCH", "4", "(BODY.PEEK[TEXT]<0.20>)"), "FETCH TEXT partial"))

    # Flags: set, read back, clear.
    out["store_add"] = flat(ok(m.uid("STORE", "1", "+FLAGS", r"(\Flagged $Work)"), "STORE +FLAGS"))
    out["flags_after_add"] = flat(ok(m.uid("FETCH", "1", "(FLAGS)"), "FETCH FLAGS"))
    out["search_flagged"] = search(m, "FLAGGED")
    out["search_keyword"] = search(m, "KEYWORD", "$Work")
    out["store_remove"] = flat(ok(m.uid("STORE", "1", "-FLAGS.SILENT", r"(\Flagged $Work)"), "STORE -FLAGS.SILENT"))
    out["flags_after_remove"] = flat(ok(m.uid("FETCH", "1", "(FLAGS)"), "FETCH FLAGS"))

    # Search by header, date, flag and body text.
    out["search_subject"] = search(m, "HEADER", "Subject", '"Logo draft"')
    out["search_from"] = search(m, "FROM", "priya@example.com")
    out["search_since"] = search(m, "SINCE", "7-Mar-2026")
    out["search_before"] = search(m, "BEFORE", "6-Mar-2026")
    out["search_sentsince"] = search(m, "SENTSINCE", "9-Mar-2026")
    out["search_seen"] = search(m, "SEEN")
    out["search_unseen_unflagged"] = search(m, "UNSEEN", "UNFLAGGED")
    out["search_body"] = search(m, "BODY", "\"Englischen Garten\"")
    out["search_body_softbreak"] = search(m, "BODY", "\"gestern im Englischen\"")
    m.literal = "München".encode("utf-8")
    out["search_body_utf8"] = search(m, "CHARSET", "UTF-8", "BODY")
    out["search_text_or"] = search(m, "OR", "TEXT", "INV-2041", "SUBJECT", "kickoff")

    # Copy, move, delete + expunge.
    m.untagged_responses.pop("COPYUID", None)
    out["copy"] = flat(ok(m._simple_command("UID", "COPY", "1", "Archive"), "UID COPY"))
    m.untagged_responses.pop("COPYUID", None)  # imaplib also files the COPY's tagged code here
    out["move"] = flat(ok(m._simple_command("UID", "MOVE", "2", "Trash"), "UID MOVE"))
    out["move_untagged"] = flat(m.untagged_responses.pop("EXPUNGE", []))
    # RFC 6851 §4.3: MOVE reports COPYUID in an untagged OK before the EXPUNGE.
    out["move_copyuid"] = flat(m.untagged_responses.pop("COPYUID", []))
    ok(m.uid("STORE", "6", "+FLAGS", r"(\Deleted)"), "STORE \\Deleted")
    out["expunge"] = flat(ok(m.expunge(), "EXPUNGE"))
    out["uids_after"] = search(m, "ALL")
    out["status_archive"] = flat(ok(m.status("Archive", "(MESSAGES UIDNEXT UIDVALIDITY)"), "STATUS Archive"))
    out["status_trash"] = flat(ok(m.status("Trash", "(MESSAGES)"), "STATUS Trash"))

    # A sent copy to Sent, then read back.
    with open(sent_file, "rb") as f:
        sent = f.read()
    out["append"] = flat(ok(m.append("Sent", r"(\Seen)", imaplib.Time2Internaldate(time.time()), sent), "APPEND"))
    ok(m.select("Sent", readonly=True), "EXAMINE Sent")
    out["sent_fetch"] = literals(ok(m.fetch("1", "(BODY.PEEK[])"), "FETCH Sent"))
    out["sent_flags"] = flat(ok(m.fetch("1", "(FLAGS)"), "FETCH Sent FLAGS"))

    # Folders: create, rename, delete.
    ok(m.create("Projects"), "CREATE Projects")
    ok(m.create("Projects/Q1"), "CREATE Projects/Q1")
    ok(m.rename("Projects", "Old-Projects"), "RENAME")
    out["list_renamed"] = flat(ok(m.list('""', "*Projects*"), "LIST renamed"))
    ok(m.delete("Old-Projects/Q1"), "DELETE child")
    ok(m.delete("Old-Projects"), "DELETE parent")
    out["list_final"] = flat(ok(m.list('""', "*"), "LIST final"))
    out["delete_inbox"] = m._simple_command("DELETE", "INBOX")[0]

    # IDLE, woken by an APPEND from a second connection.
    out["exists_before_idle"] = int(ok(m.select("INBOX"), "SELECT")[0])
    tag = m._new_tag().decode()
    m.send(("%s IDLE\r\n" % tag).encode())
    out["idle_cont"] = m.readline().decode("latin1")
    other = connect()
    ok(other.login(user, password), "LOGIN 2")
    t0 = time.monotonic()
    ok(other.append("INBOX", None, None, b"From: a@example.org\r\nSubject: ping\r\n\r\nping\r\n"), "APPEND 2")
    t_append = time.monotonic() - t0
    idle_lines = []
    while True:
        line = m.readline().decode("latin1")
        idle_lines.append(line)
        if re.match(r"^\* \d+ EXISTS\r\n$", line) or not line:
            break
    out["idle_wake_ms"] = round((time.monotonic() - t0) * 1000)
    out["idle_append_ms"] = round(t_append * 1000)
    out["idle_lines"] = idle_lines
    m.send(b"DONE\r\n")
    done = []
    while True:
        line = m.readline().decode("latin1")
        done.append(line)
        if line.startswith(tag + " ") or not line:
            break
    out["idle_done"] = done
    other.logout()
    out["logout"] = m.logout()[0]
except Exception as e:  # report, do not hide: the test prints it
    out["error"] = "%s: %s" % (type(e).__name__, e)
    out["traceback"] = traceback.format_exc()
print(json.dumps(out))
