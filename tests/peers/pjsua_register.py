#!/usr/bin/env python3
"""Registers with a SIP registrar using pjsua2 (pjproject) digest authentication.

Reports each registration state as a JSON line and exits once the outcome is
known: {"event": "registration", "code": 200, "reason": "OK", "expires": 300,
"active": true}. Exit status 0 when the final registration succeeded.

pjsip 2.15 answers MD5 when a registrar offers both MD5 and SHA-256, and
SHA-256 when that is all it offers. Without --unregister the script exits
still registered (it does not un-register on exit).

Usage: pjsua_register.py REGISTRAR_URI USER PASSWORD [--realm R] [--expires S]
       [--unregister]
"""
import argparse
import json
import os
import sys
import time

import pjsua2 as pj
from pjsua_endpoint import start_endpoint


def say(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


class Account(pj.Account):
    def __init__(self):
        super().__init__()
        self.states = []

    def onRegState(self, prm):
        info = self.getInfo()
        state = {
            "code": prm.code,
            "reason": prm.reason,
            "expires": info.regExpiresSec,
            "active": info.regIsActive,
        }
        self.states.append(state)
        say("registration", **state)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("registrar")
    parser.add_argument("user")
    parser.add_argument("password")
    parser.add_argument("--realm", default="*")
    parser.add_argument("--expires", type=int, default=300)
    parser.add_argument("--unregister", action="store_true")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()

    endpoint = start_endpoint()

    host = args.registrar.split(":", 1)[1]
    account_config = pj.AccountConfig()
    account_config.idUri = "sip:%s@%s" % (args.user, host)
    account_config.regConfig.registrarUri = args.registrar
    account_config.regConfig.timeoutSec = args.expires
    account_config.regConfig.retryIntervalSec = 0
    account_config.natConfig.contactRewriteUse = 0
    account_config.natConfig.viaRewriteUse = 0
    credentials = pj.AuthCredInfo("digest", args.realm, args.user, 0, args.password)
    account_config.sipConfig.authCreds.append(credentials)
    account = Account()
    account.create(account_config)

    deadline = time.time() + args.timeout
    while not account.states and time.time() < deadline:
        endpoint.libHandleEvents(20)
    ok = bool(account.states) and account.states[-1]["code"] == 200
    if ok and args.unregister:
        count = len(account.states)
        account.setRegistration(False)
        deadline = time.time() + args.timeout
        while len(account.states) == count and time.time() < deadline:
            endpoint.libHandleEvents(20)
        ok = len(account.states) > count and account.states[-1]["code"] == 200
    sys.stdout.flush()
    # pjsua2's teardown may assert on objects already freed; the process is done anyway.
    os._exit(0 if ok else 1)


if __name__ == "__main__":
    main()
