/**
 * SDP bodies as real MSRP peers send them: the examples of RFC 4975 §7.1, RFC 4976 (relays),
 * RFC 6135 (setup), RFC 6714 (CEMA), RFC 5547 (file transfer), and RCS/CPM chat INVITE and
 * 200 OK bodies in the shape rcsjta and IMS cores produce (discard port 9 with the real port in
 * the path, `s= ` with a space, `a=setup:actpass` from a network answerer). CRLF line ends.
 */

export function crlf(...lines: string[]): string {
  return `${lines.join("\r\n")}\r\n`;
}

/** RFC 4975 §7.1: Alice's offer, no a=setup (the offerer connects). */
export const RFC4975_OFFER = crlf(
  "v=0",
  "o=alice 2890844557 2890844559 IN IP4 alice.example.com",
  "s= -",
  "c=IN IP4 alice.example.com",
  "t=0 0",
  "m=message 7654 TCP/MSRP *",
  "a=accept-types:text/plain",
  "a=path:msrp://alice.example.com:7654/jshA7weztas;tcp",
);

/** RFC 4975 §7.1: Bob's answer. */
export const RFC4975_ANSWER = crlf(
  "v=0",
  "o=bob 2890844656 2890844656 IN IP4 bob.example.com",
  "s= -",
  "c=IN IP4 bob.example.com",
  "t=0 0",
  "m=message 8888 TCP/MSRP *",
  "a=accept-types:text/plain",
  "a=path:msrp://bob.example.com:8888/9di4eae923wzd;tcp",
);

/** RFC 4976 style: the client's relay first in a=path, over TLS. */
export const RFC4976_RELAY_OFFER = crlf(
  "v=0",
  "o=alice 2890844557 2890844559 IN IP4 alicepc.example.com",
  "s= -",
  "c=IN IP4 alicepc.example.com",
  "t=0 0",
  "m=message 7777 TCP/TLS/MSRP *",
  "a=accept-types:message/cpim text/plain text/html",
  "a=path:msrps://a.example.com:9000/kjfjan;tcp msrps://alicepc.example.com:7777/iau39soe2843z;tcp",
);

/** RFC 6135 §4: the offerer says it will connect. */
export const RFC6135_ACTIVE_OFFER = crlf(
  "v=0",
  "o=alice 2890844526 2890844527 IN IP4 alice.example.com",
  "s= -",
  "c=IN IP4 192.0.2.1",
  "t=0 0",
  "m=message 7394 TCP/MSRP *",
  "a=accept-types:text/plain",
  "a=path:msrp://192.0.2.1:7394/2s93i93idj;tcp",
  "a=setup:active",
);

/** RFC 6714 §6 style: CEMA offered; the c=/m= address is what a CEMA peer connects to. */
export const RFC6714_CEMA_OFFER = crlf(
  "v=0",
  "o=alice 2890844526 2890844527 IN IP4 192.0.2.1",
  "s= -",
  "c=IN IP4 192.0.2.1",
  "t=0 0",
  "m=message 7394 TCP/MSRP *",
  "a=accept-types:message/cpim text/plain text/html",
  "a=path:msrp://192.0.2.1:7394/2s93i93idj;tcp",
  "a=setup:passive",
  "a=msrp-cema",
);

/** RFC 5547 §8.1: a file offered for sending (an i= line inside the media section). */
export const RFC5547_FILE_OFFER = crlf(
  "v=0",
  "o=- 2890844526 2890844527 IN IP4 host.atlanta.example.com",
  "s=-",
  "c=IN IP4 host.atlanta.example.com",
  "t=0 0",
  "m=message 7654 TCP/MSRP *",
  "i=This is my latest picture",
  "a=sendonly",
  "a=accept-types:message/cpim",
  "a=accept-wrapped-types:*",
  "a=path:msrp://atlanta.example.com:7654/jshA7we;tcp",
  'a=file-selector:name:"My cool picture.jpg" type:image/jpeg size:32349 hash:sha-1:72:24:5F:E8:65:3D:DA:F3:71:36:2F:86:D4:71:91:3E:E4:A2:CE:2E',
  "a=file-transfer-id:vBnG916bdberum2fFEABR1FR3ExZMUrd",
  "a=file-disposition:attachment",
  'a=file-date:creation:"Mon, 15 May 2006 15:01:31 +0300"',
  "a=file-icon:cid:id2@alicepc.example.com",
  "a=file-range:1-32349",
);

/** RCS/CPM chat INVITE body from a handset: discard port 9, the real port in the path. */
export const RCS_CHAT_OFFER = crlf(
  "v=0",
  "o=- 3600506724 3600506724 IN IP4 10.20.30.40",
  "s=-",
  "c=IN IP4 10.20.30.40",
  "t=0 0",
  "m=message 9 TCP/MSRP *",
  "a=path:msrp://10.20.30.40:7777/1391517924073;tcp",
  "a=setup:active",
  "a=accept-types:message/cpim application/im-iscomposing+xml",
  "a=accept-wrapped-types:text/plain message/imdn+xml application/vnd.gsma.rcspushlocation+xml",
  "a=sendrecv",
);

/** RCS network 200 OK body: `s= ` (a space), actpass from the server, accept-types before path. */
export const RCS_CHAT_ANSWER_ACTPASS = crlf(
  "v=0",
  "o=- 0 0 IN IP4 sip.example.net",
  "s= ",
  "c=IN IP4 198.51.100.7",
  "t=0 0",
  "m=message 53358 TCP/MSRP *",
  "a=accept-types:message/cpim application/im-iscomposing+xml",
  "a=accept-wrapped-types:text/plain message/imdn+xml application/vnd.gsma.rcs-ft-http+xml",
  "a=setup:actpass",
  "a=path:msrp://198.51.100.7:53358/b29w5mku;tcp",
  "a=sendrecv",
);

/** CPM §7.3.2 large message INVITE: sendonly with a=max-size. */
export const CPM_LARGE_MESSAGE_OFFER = crlf(
  "v=0",
  "o=- 1718000000 1718000000 IN IP4 127.0.0.1",
  "s=-",
  "c=IN IP4 127.0.0.1",
  "t=0 0",
  "m=message 9 TCP/MSRP *",
  "a=accept-types:message/cpim",
  "a=accept-wrapped-types:text/plain image/jpeg application/octet-stream",
  "a=path:msrp://127.0.0.1:41000/lm4x9q2;tcp",
  "a=setup:active",
  "a=sendonly",
  "a=max-size:52428800",
);

/** An offer with audio first and the chat stream second (the answer must keep both m= lines). */
export const AUDIO_AND_MSRP_OFFER = crlf(
  "v=0",
  "o=carol 28908764872 28908764872 IN IP4 192.0.2.33",
  "s=-",
  "c=IN IP4 192.0.2.33",
  "t=0 0",
  "a=sendrecv",
  "m=audio 49170 RTP/AVP 0 8 101",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:101 telephone-event/8000",
  "a=fmtp:101 0-15",
  "m=message 9 TCP/MSRP *",
  "a=accept-types:message/cpim",
  "a=path:msrp://192.0.2.33:2855/x8c7dj2;tcp",
  "a=setup:active",
);

/** Audio only: no MSRP stream at all (488). */
export const AUDIO_ONLY_OFFER = crlf(
  "v=0",
  "o=- 20518 0 IN IP4 203.0.113.1",
  "s= ",
  "c=IN IP4 203.0.113.1",
  "t=0 0",
  "m=audio 54400 RTP/SAVPF 0 96",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:96 opus/48000/2",
);

export const ALL_FIXTURES: ReadonlyArray<[name: string, text: string]> = [
  ["RFC 4975 offer", RFC4975_OFFER],
  ["RFC 4975 answer", RFC4975_ANSWER],
  ["RFC 4976 relay offer", RFC4976_RELAY_OFFER],
  ["RFC 6135 active offer", RFC6135_ACTIVE_OFFER],
  ["RFC 6714 CEMA offer", RFC6714_CEMA_OFFER],
  ["RFC 5547 file offer", RFC5547_FILE_OFFER],
  ["RCS chat offer", RCS_CHAT_OFFER],
  ["RCS chat answer (actpass)", RCS_CHAT_ANSWER_ACTPASS],
  ["CPM large message offer", CPM_LARGE_MESSAGE_OFFER],
  ["audio + MSRP offer", AUDIO_AND_MSRP_OFFER],
  ["audio-only offer", AUDIO_ONLY_OFFER],
];
