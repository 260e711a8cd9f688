//! Block-wise transfer of a Record in POST requests (RFC 7959, Block1),
//! both halves and no I/O: cutting a body into blocks on the sending side,
//! putting one back together on the receiving side.

use super::message::Block;

/// The sending side of one body. A body that fits in one block goes
/// without a Block1 option: block-wise is only for what does not fit.
#[derive(Debug)]
pub struct Outgoing {
    body: Vec<u8>,
    offset: usize,
    szx: u8,
    /// False: never block-wise.
    cut: bool,
}

impl Outgoing {
    pub fn new(body: Vec<u8>, szx: u8) -> Self {
        Outgoing {
            body,
            offset: 0,
            szx,
            cut: true,
        }
    }

    /// A sender that never goes block-wise (the `coap-no-block-wise`
    /// fault): the whole body in one message, however large.
    pub fn whole(body: Vec<u8>) -> Self {
        Outgoing {
            cut: false,
            ..Outgoing::new(body, 0)
        }
    }

    fn size(&self) -> usize {
        1 << (self.szx + 4)
    }

    pub fn is_blockwise(&self) -> bool {
        self.cut && self.body.len() > self.size()
    }

    /// The block to send now and its payload.
    pub fn current(&self) -> (Option<Block>, &[u8]) {
        if !self.is_blockwise() {
            return (None, &self.body);
        }
        let size = self.size();
        let end = (self.offset + size).min(self.body.len());
        let block = Block {
            num: (self.offset / size) as u32,
            more: end < self.body.len(),
            szx: self.szx,
        };
        (Some(block), &self.body[self.offset..end])
    }

    pub fn total(&self) -> usize {
        self.body.len()
    }

    /// After a 2.31 Continue echoing `echoed`: move to the next block. A
    /// smaller SZX in the answer is the receiver asking for smaller blocks
    /// (RFC 7959 §2.5), used from the next block on.
    pub fn advance(&mut self, echoed: Option<Block>) -> Result<(), String> {
        let (Some(sent), _) = self.current() else {
            return Err("2.31 Continue to a request that was not block-wise".into());
        };
        if !sent.more {
            return Err("2.31 Continue after the last block".into());
        }
        self.offset += sent.size();
        if let Some(e) = echoed {
            if e.num != sent.num {
                return Err(format!(
                    "2.31 Continue for block {} while block {} was sent",
                    e.num, sent.num
                ));
            }
            if e.szx < self.szx {
                // The offset stays a multiple of the smaller size, as both
                // sizes are powers of two.
                self.szx = e.szx;
            }
        }
        Ok(())
    }
}

/// Why a block could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockError {
    /// RFC 7959 §2.9.2: 4.08 Request Entity Incomplete (a block out of order).
    Incomplete(String),
    /// RFC 7959 §2.9.3: 4.13 Request Entity Too Large.
    TooLarge(usize),
    /// A non-final block whose payload is not the block size (§2.3): 4.00.
    BadSize(String),
}

/// The receiving side of one body from one peer.
#[derive(Debug, Default)]
pub struct Reassembly {
    body: Vec<u8>,
    blocks: u32,
}

impl Reassembly {
    /// Takes one block; `Some(body)` once the last block is in.
    pub fn push(
        &mut self,
        block: Block,
        payload: &[u8],
        max_body: usize,
    ) -> Result<Option<(Vec<u8>, u32)>, BlockError> {
        if block.num == 0 {
            // Block 0 starts a new body (§2.5), dropping an unfinished one.
            self.body.clear();
            self.blocks = 0;
        }
        let offset = block.num as usize * block.size();
        if offset != self.body.len() {
            return Err(BlockError::Incomplete(format!(
                "block {} (offset {offset}) while {} bytes were received",
                block.num,
                self.body.len()
            )));
        }
        if block.more && payload.len() != block.size() {
            return Err(BlockError::BadSize(format!(
                "block {} carries {} bytes, not the block size {}",
                block.num,
                payload.len(),
                block.size()
            )));
        }
        if self.body.len() + payload.len() > max_body {
            return Err(BlockError::TooLarge(max_body));
        }
        self.body.extend_from_slice(payload);
        self.blocks += 1;
        if block.more {
            Ok(None)
        } else {
            let blocks = std::mem::take(&mut self.blocks);
            Ok(Some((std::mem::take(&mut self.body), blocks)))
        }
    }
}
