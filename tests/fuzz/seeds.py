#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/corpus/TARGET/)
from messages as real clients send them (sipp, baresip, a provider's
trunk). Run from anywhere; files are overwritten, nothing else is touched.
The message format of the sip target is described in fuzz_sip.c."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SEP = "\n@@@@\n"

SDP = ("v=0\r\n"
       "o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n"
       "s=-\r\n"
       "c=IN IP4 127.0.0.1\r\n"
       "t=0 0\r\n"
       "m=audio 6000 RTP/AVP 0 8 101\r\n"
       "a=rtpmap:0 PCMU/8000\r\n"
       "a=rtpmap:8 PCMA/8000\r\n"
       "a=rtpmap:101 telephone-event/8000\r\n"
       "a=fmtp:101 0-16\r\n"
       "a=ptime:20\r\n"
       "a=sendrecv\r\n")

SDP_BARESIP = ("v=0\r\n"
               "o=- 1840283457 3141052883 IN IP4 192.168.1.20\r\n"
               "s=-\r\n"
               "c=IN IP4 192.168.1.20\r\n"
               "t=0 0\r\n"
               "a=tool:baresip 1.0.0\r\n"
               "m=audio 10386 RTP/AVP 96 9 0 8 101\r\n"
               "b=AS:64\r\n"
               "a=rtpmap:96 opus/48000/2\r\n"
               "a=fmtp:96 stereo=1;sprop-stereo=1\r\n"
               "a=rtpmap:9 G722/8000\r\n"
               "a=rtpmap:0 PCMU/8000\r\n"
               "a=rtpmap:8 PCMA/8000\r\n"
               "a=rtpmap:101 telephone-event/8000\r\n"
               "a=fmtp:101 0-15\r\n"
               "a=rtcp-mux\r\n"
               "a=sendrecv\r\n"
               "a=label:1\r\n"
               "a=ssrc:2755214566 cname:c2b1c4ef\r\n"
               "a=ptime:20\r\n")

SDP_HOLD = ("v=0\r\no=- 2 3 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
            "m=audio 4000 RTP/AVP 8\r\na=sendonly\r\n")

SDP_V6 = ("v=0\n"
          "o=- 1 1 IN IP6 ::1\n"
          "s=-\n"
          "c=IN IP6 ::1\n"
          "t=0 0\n"
          "m=video 0 RTP/AVP 31\n"
          "m=audio 5004 RTP/AVP 97 18\n"
          "a=rtpmap:97 PCMU/8000\n"
          "a=rtcp:5005 IN IP6 ::1\n"
          "a=recvonly\n")


def req(method, uri="sip:100@127.0.0.1:5060", callid="a84b4c76e66710@pc33", cseq=1,
        branch="z9hG4bK776asdhds", ftag="1928301774", to_tag=None, body=None,
        extra="", cseq_method=None, contact=True):
    to = "<%s>" % uri + (";tag=%s" % to_tag if to_tag else "")
    lines = [
        "%s %s SIP/2.0" % (method, uri),
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=%s;rport" % branch,
        "Max-Forwards: 70",
        "From: \"Alice\" <sip:555@127.0.0.1:5070>;tag=%s" % ftag,
        "To: %s" % to,
        "Call-ID: %s" % callid,
        "CSeq: %d %s" % (cseq, cseq_method or method),
    ]
    if contact:
        lines.append("Contact: <sip:555@127.0.0.1:5070>")
    if extra:
        lines.extend(extra.rstrip("\r\n").split("\r\n"))
    lines.append("User-Agent: sipp")
    if body is not None:
        lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body.encode()))
        return "\r\n".join(lines) + "\r\n\r\n" + body
    lines.append("Content-Length: 0")
    return "\r\n".join(lines) + "\r\n\r\n"


def resp(status, reason, body=None, to_tag="as5b1f", extra=""):
    """A response to the stack's own request (the UAC directive)."""
    lines = [
        "SIP/2.0 %d %s" % (status, reason),
        "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=$BRANCH;rport",
        "From: <sip:555@127.0.0.1>;tag=$TAG",
        "To: <sip:100@127.0.0.1>" + (";tag=%s" % to_tag if to_tag else ""),
        "Call-ID: $CALLID",
        "CSeq: $CSEQ INVITE",
        "Contact: <sip:100@127.0.0.1:5070>",
    ]
    if extra:
        lines.extend(extra.rstrip("\r\n").split("\r\n"))
    if body is not None:
        lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body.encode()))
        return "\r\n".join(lines) + "\r\n\r\n" + body
    lines.append("Content-Length: 0")
    return "\r\n".join(lines) + "\r\n\r\n"


def seq(*msgs):
    return SEP.join(msgs)


def sip_seeds():
    s = {}
    s["options"] = req("OPTIONS", "sip:127.0.0.1:5060", contact=False,
                       extra="Accept: application/sdp")
    s["options_compact"] = ("OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
                            "v: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKc1\r\n"
                            "f: <sip:a@127.0.0.1>;tag=1\r\nt: <sip:b@127.0.0.1>\r\n"
                            "i: compact@x\r\nCSeq: 7 OPTIONS\r\nl: 0\r\n\r\n")
    # trusted: the call layer's action is the last digit of the number
    s["invite_trusted_answer"] = seq(
        "!t\n" + req("INVITE", "sip:1004@127.0.0.1:5060", body=SDP),
        "!t\n" + req("ACK", "sip:1004@127.0.0.1:5060", to_tag="$TAG", cseq=1,
                     branch="z9hG4bKack1"),
        "!t\n" + req("BYE", "sip:1004@127.0.0.1:5060", to_tag="$TAG", cseq=2,
                     branch="z9hG4bKbye1",
                     extra="Reason: Q.850;cause=16;text=\"Normal call clearing\""))
    s["invite_trusted_ring_cancel"] = seq(
        "!t\n" + req("INVITE", "sip:1002@127.0.0.1:5060", body=SDP_BARESIP),
        "!t\n" + req("CANCEL", "sip:1002@127.0.0.1:5060", cseq=1, contact=False))
    s["invite_early_bye"] = seq(
        "!t\n" + req("INVITE", "sip:1003@127.0.0.1:5060", body=SDP),
        "!t\n" + req("BYE", "sip:1003@127.0.0.1:5060", to_tag="$TAG", cseq=2,
                     branch="z9hG4bKbye2"))
    s["invite_answer_later"] = seq(
        "!t\n" + req("INVITE", "sip:1000@127.0.0.1:5060", body=SDP_HOLD),
        "!ra\n" + req("INVITE", "sip:1000@127.0.0.1:5060", body=SDP_HOLD),
        "!t\n" + req("ACK", "sip:1000@127.0.0.1:5060", to_tag="$TAG", cseq=1,
                     branch="z9hG4bKack3"),
        "!th\n" + req("INVITE", "sip:1000@127.0.0.1:5060", to_tag="$TAG", cseq=2,
                      branch="z9hG4bKre1", body=SDP_HOLD))
    s["invite_rejected"] = "!t\n" + req("INVITE", "sip:1001@127.0.0.1:5060", body=SDP)
    s["invite_no_sdp"] = "!t\n" + req("INVITE", "sip:1004@127.0.0.1:5060")
    s["invite_bad_ctype"] = "!t\n" + req("INVITE", "sip:1004@127.0.0.1:5060",
                                        extra="Content-Type: text/plain\r\nContent-Length: 2",
                                        ).replace("Content-Length: 0\r\n", "") + "hi"
    s["invite_auth"] = seq(
        req("INVITE", "sip:1004@127.0.0.1:5060", body=SDP),
        req("ACK", "sip:1004@127.0.0.1:5060", to_tag="$TAG", cseq=1),
        req("INVITE", "sip:1004@127.0.0.1:5060", cseq=2, branch="z9hG4bKauth2",
            extra="Authorization: $AUTH", body=SDP),
        req("ACK", "sip:1004@127.0.0.1:5060", to_tag="$TAG", cseq=2,
            branch="z9hG4bKack4"),
        req("BYE", "sip:1004@127.0.0.1:5060", to_tag="$TAG", cseq=3, branch="z9hG4bKbye4"))
    s["invite_auth_wrong"] = seq(
        req("INVITE", "sip:1004@127.0.0.1:5060", body=SDP),
        req("INVITE", "sip:1004@127.0.0.1:5060", cseq=2, branch="z9hG4bKauth3",
            extra='Authorization: Digest username="alice", realm="pstnbridge", '
                  'nonce="$NONCE", uri="sip:1004@127.0.0.1:5060", '
                  'response="00000000000000000000000000000000", algorithm=MD5', body=SDP))
    s["invite_draining"] = "!td\n" + req("INVITE", "sip:1004@127.0.0.1:5060", body=SDP)
    s["invite_tcp"] = "!tT\n" + req("INVITE", "sip:1004@127.0.0.1:5060", body=SDP).replace(
        "SIP/2.0/UDP", "SIP/2.0/TCP")
    s["invite_record_route"] = "!t\n" + req(
        "INVITE", "sip:1004@127.0.0.1:5060", body=SDP,
        extra="Record-Route: <sip:10.0.0.1;lr>, <sip:10.0.0.2;lr;ftag=x>\r\n"
              "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKproxy\r\n"
              "Supported: timer, 100rel\r\nSession-Expires: 1800;refresher=uac")
    s["uac_answer"] = seq(
        "!u\n" + resp(100, "Trying", to_tag=None),
        resp(180, "Ringing"),
        resp(183, "Session Progress", body=SDP),
        resp(200, "OK", body=SDP),
        resp(200, "OK", body=SDP),
        req("BYE", "sip:555@127.0.0.1:5060", callid="$CALLID", ftag="as5b1f", to_tag="$TAG",
            cseq=1, branch="z9hG4bKbye5"))
    s["uac_busy"] = seq("!u\n" + resp(486, "Busy Here",
                                     extra="Reason: Q.850;cause=17"))
    s["uac_cancel"] = seq("!u\n" + resp(180, "Ringing"), "!h\n" + resp(487, "Request Terminated"))
    s["uac_answer_bad_sdp"] = seq("!u\n" + resp(200, "OK", body="v=0\r\nm=video 1 RTP/AVP 31\r\n"))
    s["register"] = req("REGISTER", "sip:127.0.0.1:5060", extra="Expires: 3600")
    s["info"] = req("INFO", "sip:1004@127.0.0.1:5060", to_tag="nodialog")
    s["missing_callid"] = "\r\n".join(
        l for l in req("OPTIONS", "sip:127.0.0.1").split("\r\n") if not l.startswith("Call-ID"))
    s["cseq_mismatch"] = req("BYE", "sip:1@127.0.0.1", cseq_method="INVITE")
    s["stray_response"] = resp(200, "OK", body=SDP)
    s["garbage"] = "INVITE\r\n\r\n"
    s["keepalive"] = "\r\n\r\n"
    s["multipart"] = "!t\n" + req(
        "INVITE", "sip:1004@127.0.0.1:5060",
        extra="Content-Type: multipart/mixed;boundary=unique-boundary-1\r\nMIME-Version: 1.0",
        ).replace("Content-Length: 0",
                  "Content-Length: %d" % (len(SDP) + 120)) + (
        "--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n" + SDP +
        "\r\n--unique-boundary-1--\r\n")
    # over a real TCP connection ('S'): framing by Content-Length
    tinv = req("INVITE", "sip:1004@127.0.0.1:5060", body=SDP).replace("SIP/2.0/UDP", "SIP/2.0/TCP")
    topt = req("OPTIONS", "sip:127.0.0.1:5060", branch="z9hG4bKs1",
               contact=False).replace("SIP/2.0/UDP", "SIP/2.0/TCP")
    s["stream_two_messages"] = "!S\n\r\n\r\n" + topt + topt.replace("z9hG4bKs1", "z9hG4bKs2")
    s["stream_split_invite"] = seq(
        "!St\n" + tinv[:200], "!S\n" + tinv[200:],
        "!S\n" + req("ACK", "sip:1004@127.0.0.1:5060", to_tag="$TAG",
                     branch="z9hG4bKack9").replace("SIP/2.0/UDP", "SIP/2.0/TCP"))
    s["stream_bad_length"] = "!S\n" + topt.replace("Content-Length: 0", "Content-Length: 99999999")
    return s


def sdp_seeds():
    return {
        "basic": SDP, "baresip": SDP_BARESIP, "hold": SDP_HOLD, "v6_lf": SDP_V6,
        "dynamic_pcma": ("v=0\r\no=- 0 0 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\n"
                         "t=0 0\r\nm=audio 7078 RTP/AVP 96 97\r\na=rtpmap:96 pcma/8000\r\n"
                         "a=rtpmap:97 telephone-event/8000\r\na=inactive\r\n"),
        "savp": ("v=0\r\no=- 0 0 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n"
                 "m=audio 7078 RTP/SAVP 0\r\nc=IN IP4 1.2.3.4\r\n"
                 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n"),
    }


def rtp(pt, seq_, ts, ssrc, payload=b"", marker=False, csrc=(), ext=None, pad=0):
    b0 = 0x80 | (0x20 if pad else 0) | (0x10 if ext is not None else 0) | len(csrc)
    p = struct.pack("!BBHII", b0, (0x80 if marker else 0) | pt, seq_, ts, ssrc)
    for c in csrc:
        p += struct.pack("!I", c)
    if ext is not None:
        p += struct.pack("!HH", 0xbede, len(ext) // 4) + ext
    p += payload
    if pad:
        p += b"\0" * (pad - 1) + bytes([pad])
    return p


def rtcp_rr(ssrc, blocks):
    p = struct.pack("!BBHI", 0x80 | len(blocks), 201, 1 + 6 * len(blocks), ssrc)
    for b in blocks:
        p += struct.pack("!IIIIII", *b)
    return p


def rtcp_sr(ssrc, blocks):
    p = struct.pack("!BBHI", 0x80 | len(blocks), 200, 6 + 6 * len(blocks), ssrc)
    p += struct.pack("!IIIII", 0xe1234567, 0x89abcdef, 160000, 1000, 160000)
    for b in blocks:
        p += struct.pack("!IIIIII", *b)
    return p


def sdes(ssrc, cname):
    item = bytes([1, len(cname)]) + cname + b"\0"
    item += b"\0" * ((-len(item)) % 4)
    return struct.pack("!BBHI", 0x81, 202, (4 + len(item)) // 4, ssrc) + item


def rtp_seeds():
    blk = (0x1234, 0x01000010, 5000, 20, 0xe1234567 >> 0, 65536)
    return {
        "pcma": rtp(8, 1, 160, 0x11223344, b"\xd5" * 160),
        "marker_csrc": rtp(0, 2, 320, 1, b"\xff" * 20, marker=True, csrc=(7, 8)),
        "ext_pad": rtp(8, 3, 480, 1, b"\x55" * 10, ext=b"\x10\x01\x00\x00", pad=4),
        "dtmf": rtp(101, 4, 640, 1, b"\x05\x0a\x01\x40", marker=True),
        "rr": rtcp_rr(0xabc, [blk]) + sdes(0xabc, b"user@host"),
        "sr": rtcp_sr(0xabc, [blk, blk]) + sdes(0xabc, b"x"),
        "bye": rtcp_rr(1, []) + struct.pack("!BBHI", 0x81, 203, 1, 1),
    }


def media_seeds():
    """Records for fuzz_media: ms since the last packet, source, length."""
    def rec(dt, sel, pkt):
        return struct.pack("!BBH", dt, sel, len(pkt)) + pkt

    talk = b"".join(rec(20, 0, rtp(8, 100 + i, 160 * i, 0x11, b"\xd5" * 160)) for i in range(12))
    nat = b"".join(rec(20, 2, rtp(8, 200 + i, 160 * i, 0x22, b"\x55" * 160)) for i in range(8))
    dtmf = b"".join(rec(20, 0, rtp(101, 300 + i, 8000, 0x11, struct.pack("!BBH", 5, 0x0a | (0x80 if i > 4 else 0), 160 * (i + 1)), marker=i == 0)) for i in range(7))
    jitter = b"".join(rec(dt, 0, rtp(8, 400 + i, 160 * i, 0x33, b"\xd5" * 160))
                      for i, dt in enumerate([0, 60, 0, 0, 5, 90, 20, 20, 0, 200, 20]))
    rtcp = rec(5, 4, rtcp_sr(0x11, [(0x1234, 0, 0, 0, 0, 0)]) + sdes(0x11, b"a"))
    return {"talk": talk, "nat": talk[:200] + nat, "dtmf": talk[:700] + dtmf + talk[700:],
            "jitter": jitter, "rtcp": talk[:400] + rtcp + talk[400:]}


def cfg_seeds():
    s = {}
    for name in ("conf/pstnbridge.conf.sample", "conf/pstnbridge.conf", "tests/data/cfg/bad.conf"):
        path = os.path.join(HERE, "..", "..", name)
        if os.path.exists(path):
            s[os.path.basename(name)] = open(path).read()
    s["small"] = ("[sip]\nlisten_udp = 127.0.0.1:5060\ntrusted = 127.0.0.0/8, ::1\n"
                  "[rtp]\ncodecs = pcmu\n[user alice]\npassword = secret\nnumber = 555, 556\n"
                  "latch_mode = window\n[span sim1]\ndriver = sim\necho = 100\n"
                  "[route out]\nmatch = 1\nspans = sim1\nstrip = 1\nprepend = 0\n"
                  "[route in]\ndirection = inbound\nmatch = *\n"
                  "target = sip:{number}@127.0.0.1:5070\n")
    return s


def write(target, seeds, binary=False):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data if binary else data.encode())


if __name__ == "__main__":
    write("sip", sip_seeds())
    write("sdp", sdp_seeds())
    write("rtp", rtp_seeds(), binary=True)
    write("media", media_seeds(), binary=True)
    write("cfg", cfg_seeds())
