"""The pjsua2 endpoint the peer scripts share: quiet, single-threaded, on
UDP 127.0.0.1 (a free port), without a sound device."""

import pjsua2 as pj


def start_endpoint():
    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.logConfig.level = 0
    config.logConfig.consoleLevel = 0
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = True
    endpoint.libInit(config)
    transport = pj.TransportConfig()
    transport.port = 0
    transport.boundAddress = "127.0.0.1"
    endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    endpoint.libStart()
    endpoint.audDevManager().setNullDev()
    return endpoint
