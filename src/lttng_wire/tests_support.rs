//! Reads the captures in tests/data/lttng_wire (see its README and capture.py).

use super::{Header, Reply, Request, HEADER_LEN};

/// One recorded connection: the request bytes and the reply bytes.
pub(crate) struct Conn {
    pub(crate) req: Vec<u8>,
    pub(crate) rep: Vec<u8>,
}

pub(crate) fn capture(name: &str) -> Vec<Conn> {
    let path = format!(
        "{}/tests/data/lttng_wire/{name}.bin",
        env!("CARGO_MANIFEST_DIR")
    );
    let b = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = Vec::new();
    let mut o = 0;
    let take = |o: &mut usize| {
        let n = u32::from_le_bytes(b[*o..*o + 4].try_into().unwrap()) as usize;
        let s = b[*o + 4..*o + 4 + n].to_vec();
        *o += 4 + n;
        s
    };
    while o < b.len() {
        let req = take(&mut o);
        let rep = take(&mut o);
        out.push(Conn { req, rep });
    }
    out
}

impl Conn {
    pub(crate) fn header(&self) -> Header {
        Header::decode(&self.req[..HEADER_LEN]).unwrap()
    }
    pub(crate) fn request(&self) -> Request {
        let h = self.header();
        assert_eq!(
            h.payload_len().unwrap(),
            self.req.len() - HEADER_LEN,
            "declared payload length"
        );
        Request::decode(&h, &self.req[HEADER_LEN..]).unwrap()
    }
    pub(crate) fn reply_u32(&self, i: usize) -> u32 {
        u32::from_le_bytes(self.rep[4 * i..4 * i + 4].try_into().unwrap())
    }
    pub(crate) fn reply_code(&self) -> u32 {
        self.reply_u32(1)
    }
    pub(crate) fn cmd_header(&self) -> &[u8] {
        &self.rep[24..24 + self.reply_u32(3) as usize]
    }
    pub(crate) fn data(&self) -> &[u8] {
        let h = 24 + self.reply_u32(3) as usize;
        &self.rep[h..h + self.reply_u32(4) as usize]
    }
    /// The whole reply as ustd would encode it must equal the captured one (pid aside).
    pub(crate) fn assert_reply(&self, r: &Reply) {
        let mut ours = r.encode(self.reply_u32(0), 0);
        ours[8..12].copy_from_slice(&self.rep[8..12]);
        assert_eq!(ours, self.rep, "reply to command {}", self.reply_u32(0));
    }
}
