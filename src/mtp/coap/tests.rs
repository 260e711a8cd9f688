//! The sans-I/O parts of the CoAP MTP, fed with packets: no sockets.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use coap_lite::{CoapOption, MessageClass, MessageType, Packet, RequestType, ResponseType};

use super::blockwise::{BlockError, Outgoing, Reassembly};
use super::inbox::Inbox;
use super::message::{self, Block, CoapUri, Post, CONTENT_FORMAT_OCTET_STREAM};
use crate::usp::msg;
use crate::usp::proto::msg::{request::ReqType, Get};
use crate::usp::record;

fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn a_record(padding: usize) -> Vec<u8> {
    let get = msg::request(
        "m-1",
        ReqType::Get(Get {
            param_paths: vec![format!("Device.{}", "x".repeat(padding))],
            max_depth: 0,
        }),
    );
    record::encode(&record::no_session("proto::c", "proto::a", &get))
}

fn post(mid: u16, block1: Option<Block>, payload: &[u8]) -> Packet {
    let path = vec!["usp".to_string()];
    Post {
        message_id: mid,
        token: &[1, 2, 3, 4],
        path: &path,
        reply_to: "coap://127.0.0.1:40000/ctrl",
        block1,
        size1: None,
        content_format: CONTENT_FORMAT_OCTET_STREAM,
        payload,
    }
    .packet()
}

/// Round-trips through bytes, as the socket would.
fn wire(p: &Packet) -> Packet {
    Packet::from_bytes(&p.to_bytes_unlimited().unwrap()).unwrap()
}

fn inbox() -> Inbox {
    Inbox::new(vec!["usp".into()], 64 * 1024)
}

fn code(p: &Packet) -> MessageClass {
    p.header.code
}

#[test]
fn uris_parse_and_print() {
    let u = CoapUri::parse("coap://127.0.0.1:5690/usp/agent?x=1").unwrap();
    assert_eq!(u.authority(), "127.0.0.1:5690");
    assert_eq!(u.path, vec!["usp", "agent"]);
    assert_eq!(u.to_string(), "coap://127.0.0.1:5690/usp/agent");
    let v6 = CoapUri::parse("coap://[::1]/usp").unwrap();
    assert_eq!(v6.authority(), "[::1]:5683");
    assert!(CoapUri::parse("coaps://h/usp")
        .unwrap_err()
        .contains("DTLS"));
    assert!(CoapUri::parse("http://h/usp").is_err());
    assert!(CoapUri::parse("coap://h:port/usp").is_err());
}

#[test]
fn block_option_values_follow_rfc7959() {
    // num 1, more, szx 6 (1024) -> 0x1e: one byte.
    let b = Block {
        num: 1,
        more: true,
        szx: 6,
    };
    assert_eq!(b.encode(), vec![0x1e]);
    assert_eq!(Block::decode(&[0x1e]), Some(b));
    assert_eq!(
        Block {
            num: 0,
            more: false,
            szx: 0
        }
        .encode(),
        Vec::<u8>::new()
    );
    let big = Block {
        num: 70_000,
        more: false,
        szx: 2,
    };
    assert_eq!(big.encode().len(), 3);
    assert_eq!(Block::decode(&big.encode()), Some(big));
    // SZX 7 is reserved, and no value is over 3 bytes.
    assert_eq!(Block::decode(&[0x07]), None);
    assert_eq!(Block::decode(&[0, 0, 0, 1]), None);
}

#[test]
fn a_post_carries_the_binding_options() {
    let p = wire(&post(7, None, b"rec"));
    assert_eq!(p.header.get_type(), MessageType::Confirmable);
    assert_eq!(code(&p), MessageClass::Request(RequestType::Post));
    assert_eq!(message::uri_path(&p), vec!["usp"]);
    assert_eq!(message::content_format(&p), Some(42));
    assert_eq!(
        message::reply_to(&p).as_deref(),
        Some("coap://127.0.0.1:40000/ctrl")
    );
    assert_eq!(p.get_token(), &[1, 2, 3, 4]);
}

#[test]
fn a_record_is_acknowledged_204_piggy_backed_and_delivered() {
    let rec = a_record(0);
    let h = inbox().handle(peer(), &wire(&post(9, None, &rec)), Instant::now(), 0);
    let reply = h.reply.unwrap();
    assert_eq!(reply.header.get_type(), MessageType::Acknowledgement);
    assert_eq!(reply.header.message_id, 9);
    assert_eq!(reply.get_token(), &[1, 2, 3, 4]);
    assert_eq!(code(&reply), MessageClass::Response(ResponseType::Changed));
    let d = h.delivery.unwrap();
    assert_eq!(d.body, rec);
    assert_eq!(d.rejected, None);
    assert_eq!(d.reply_to.as_deref(), Some("coap://127.0.0.1:40000/ctrl"));
}

#[test]
fn a_duplicate_message_id_is_answered_again_but_not_delivered_twice() {
    let mut inbox = inbox();
    let p = wire(&post(11, None, &a_record(0)));
    let first = inbox.handle(peer(), &p, Instant::now(), 0);
    let again = inbox.handle(peer(), &p, Instant::now(), 0);
    assert!(first.delivery.is_some());
    assert!(again.delivery.is_none());
    assert_eq!(again.reply, first.reply);
    // The same id from another endpoint is another message (RFC 7252 §4.5).
    let other: SocketAddr = "127.0.0.1:40001".parse().unwrap();
    assert!(inbox
        .handle(other, &p, Instant::now(), 0)
        .delivery
        .is_some());
    // Once EXCHANGE_LIFETIME is over the id may be reused.
    let later = Instant::now() + Duration::from_secs(300);
    let _ = inbox.handle(peer(), &wire(&post(12, None, &a_record(0))), later, 0);
    assert!(inbox.handle(peer(), &p, later, 0).delivery.is_some());
}

#[test]
fn binding_violations_get_405_415_400_and_404() {
    let mut get = post(1, None, b"");
    get.header.code = MessageClass::Request(RequestType::Get);
    let mut text = post(2, None, &a_record(0));
    text.clear_option(CoapOption::ContentFormat);
    text.add_option(CoapOption::ContentFormat, vec![0]);
    let garbage = post(3, None, b"\x0a\x7fnot a USP record");
    let mut no_reply_to = post(4, None, &a_record(0));
    no_reply_to.clear_option(CoapOption::UriQuery);
    let mut elsewhere = post(5, None, &a_record(0));
    elsewhere.clear_option(CoapOption::UriPath);
    elsewhere.add_option(CoapOption::UriPath, b"other".to_vec());
    let mut inbox = inbox();
    let mut answer = |p: &Packet| inbox.handle(peer(), &wire(p), Instant::now(), 0);
    let h = answer(&get);
    assert_eq!(
        code(h.reply.as_ref().unwrap()),
        MessageClass::Response(ResponseType::MethodNotAllowed)
    );
    assert!(h.delivery.is_none() && h.problem.unwrap().contains("4.05"));
    let h = answer(&text);
    assert_eq!(
        code(h.reply.as_ref().unwrap()),
        MessageClass::Response(ResponseType::UnsupportedContentFormat)
    );
    assert!(h.delivery.is_none());
    let h = answer(&garbage);
    let reply = h.reply.unwrap();
    assert_eq!(
        code(&reply),
        MessageClass::Response(ResponseType::BadRequest)
    );
    assert!(String::from_utf8_lossy(&reply.payload).contains("not a protobuf USP Record"));
    // Handed up marked rejected, so a Controller can report what came.
    assert!(h.delivery.unwrap().rejected.is_some());
    let h = answer(&no_reply_to);
    assert_eq!(
        code(h.reply.as_ref().unwrap()),
        MessageClass::Response(ResponseType::BadRequest)
    );
    assert!(h.delivery.is_none());
    let h = answer(&elsewhere);
    assert_eq!(
        code(h.reply.as_ref().unwrap()),
        MessageClass::Response(ResponseType::NotFound)
    );
}

#[test]
fn a_large_record_goes_in_blocks_and_comes_back_whole() {
    let rec = a_record(3000);
    let mut out = Outgoing::new(rec.clone(), 4); // 256-byte blocks
    assert!(out.is_blockwise());
    let mut inbox = inbox();
    let mut mid = 100;
    let mut blocks = 0;
    let delivered = loop {
        let (block, chunk) = out.current();
        let block = block.expect("block-wise");
        blocks += 1;
        let h = inbox.handle(
            peer(),
            &wire(&post(mid, Some(block), chunk)),
            Instant::now(),
            0,
        );
        mid += 1;
        let reply = h.reply.unwrap();
        let echoed = message::block1(&reply).unwrap();
        assert_eq!(echoed.map(|b| b.num), Some(block.num));
        if block.more {
            assert_eq!(code(&reply), MessageClass::Response(ResponseType::Continue));
            assert!(h.delivery.is_none());
            out.advance(echoed).unwrap();
        } else {
            assert_eq!(code(&reply), MessageClass::Response(ResponseType::Changed));
            break h.delivery.unwrap();
        }
    };
    assert_eq!(delivered.body, rec);
    assert_eq!(delivered.blocks, blocks);
    assert_eq!(blocks, rec.len().div_ceil(256) as u32);
}

#[test]
fn a_small_record_goes_without_block1() {
    let out = Outgoing::new(a_record(0), 6);
    assert!(!out.is_blockwise());
    assert_eq!(out.current().0, None);
}

#[test]
fn the_sender_adopts_a_smaller_block_size_asked_for() {
    let body = vec![7u8; 4096];
    let mut out = Outgoing::new(body, 6);
    // The receiver answered block 0 (1024 bytes) asking for 256-byte blocks:
    // the next block starts at byte 1024, which is block 4 of 256.
    out.advance(Some(Block {
        num: 0,
        more: true,
        szx: 4,
    }))
    .unwrap();
    let (block, chunk) = out.current();
    assert_eq!(
        block,
        Some(Block {
            num: 4,
            more: true,
            szx: 4
        })
    );
    assert_eq!(chunk.len(), 256);
    assert!(out
        .advance(Some(Block {
            num: 9,
            more: true,
            szx: 4
        }))
        .unwrap_err()
        .contains("block 9"));
}

#[test]
fn out_of_order_and_short_blocks_are_refused() {
    let mut r = Reassembly::default();
    let b = |num, more| Block { num, more, szx: 0 };
    assert_eq!(r.push(b(0, true), &[0; 16], 1000), Ok(None));
    assert!(matches!(
        r.push(b(2, true), &[0; 16], 1000),
        Err(BlockError::Incomplete(_))
    ));
    let mut r = Reassembly::default();
    assert!(matches!(
        r.push(b(0, true), &[0; 10], 1000),
        Err(BlockError::BadSize(_))
    ));
    let mut r = Reassembly::default();
    assert!(matches!(r.push(b(0, true), &[0; 16], 20), Ok(None)));
    assert_eq!(
        r.push(b(1, true), &[0; 16], 20),
        Err(BlockError::TooLarge(20))
    );
    // Through the inbox: 4.08 for a block out of order.
    let mut inbox = inbox();
    let h = inbox.handle(
        peer(),
        &wire(&post(1, Some(b(3, true)), &[0; 16])),
        Instant::now(),
        0,
    );
    assert_eq!(
        code(&h.reply.unwrap()),
        MessageClass::Response(ResponseType::RequestEntityIncomplete)
    );
}

#[test]
fn a_non_confirmable_request_gets_a_non_confirmable_answer() {
    let mut p = post(5, None, &a_record(0));
    p.header.set_type(MessageType::NonConfirmable);
    let h = inbox().handle(peer(), &wire(&p), Instant::now(), 777);
    let reply = h.reply.unwrap();
    assert_eq!(reply.header.get_type(), MessageType::NonConfirmable);
    assert_eq!(reply.header.message_id, 777);
    assert_eq!(reply.get_token(), &[1, 2, 3, 4]);
}
