#!/usr/bin/env python3
"""Calls a SIP URI with pjsua2 (pjproject) and reports what happened as JSON lines.

pjsua2 offers PCMU/PCMA and telephone-event at payload type 120, as deployed
pjsip phones do, so a server that assumes PT 101 fails here.

Usage: pjsua_call.py URI [--hold SECONDS] [--digits 123] [--from NUMBER]
Prints {"event": "confirmed"}, {"event": "remote_sdp", "sdp": ...},
{"event": "disconnected", "code": N, "reason": ...}; exit 0 when the call was
confirmed and ended by us.
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


class Call(pj.Call):
    def __init__(self, account):
        super().__init__(account)
        self.confirmed = False
        self.disconnected = False

    def onCallState(self, prm):
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed = True
            say("confirmed")
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True
            say("disconnected", code=info.lastStatusCode, reason=info.lastReason)

    def onCallSdpCreated(self, prm):
        if prm.remSdp.wholeSdp:
            say("remote_sdp", sdp=prm.remSdp.wholeSdp)

    def onCallMediaState(self, prm):
        info = self.getInfo()
        for media in info.media:
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                audio = self.getAudioMedia(media.index)
                pj.Endpoint.instance().audDevManager().getCaptureDevMedia().startTransmit(audio)
                say("media_active")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("--hold", type=float, default=2.0)
    parser.add_argument("--digits", default="")
    parser.add_argument("--from", dest="caller", default="+380441234567")
    parser.add_argument("--timeout", type=float, default=15.0)
    args = parser.parse_args()

    endpoint = start_endpoint()

    account_config = pj.AccountConfig()
    account_config.idUri = "sip:%s@127.0.0.1" % args.caller
    account_config.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    account = pj.Account()
    account.create(account_config)

    call = Call(account)
    call.makeCall(args.uri, pj.CallOpParam(True))

    deadline = time.time() + args.timeout
    while not call.confirmed and not call.disconnected and time.time() < deadline:
        endpoint.libHandleEvents(20)
    ok = call.confirmed
    if ok:
        end = time.time() + args.hold
        sent = False
        while time.time() < end and not call.disconnected:
            endpoint.libHandleEvents(20)
            if args.digits and not sent and time.time() > end - args.hold + 0.5:
                call.dialDtmf(args.digits)
                sent = True
        if not call.disconnected:
            call.hangup(pj.CallOpParam(True))
            end = time.time() + 5
            while not call.disconnected and time.time() < end:
                endpoint.libHandleEvents(20)
    ok = ok and call.disconnected
    sys.stdout.flush()
    # pjsua2's teardown asserts on calls already freed; the process is done anyway.
    os._exit(0 if ok else 1)


if __name__ == "__main__":
    main()
