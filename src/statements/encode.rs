//! Streaming byte transformers that sit between a writer and its output: re-encoding UTF-8
//! as GBK (the Alipay bill) or UTF-16LE (a wrongly encoded file), cutting a file short (a
//! truncated download), and counting bytes. Each holds at most a fixed chunk, never the file.

use encoding_rs::{CoderResult, Encoder};
use std::io::{self, Write};

/// Size of the output chunk an encoder fills before passing it on. GBK needs at most two
/// bytes per character and UTF-16 two per code unit, so 16 KiB holds one full chunk of a
/// writer's buffered output in a handful of rounds.
pub const ENCODE_CHUNK_BYTES: usize = 16 * 1024;

/// Holds back the (at most 3) bytes of a UTF-8 sequence split across two `write` calls,
/// and hands out the longest complete prefix.
#[derive(Debug, Default)]
struct Utf8Carry {
    pending: Vec<u8>,
}

impl Utf8Carry {
    /// Run `f` over the complete characters of `pending ++ buf`; keep the incomplete tail.
    fn feed(&mut self, buf: &[u8], mut f: impl FnMut(&str) -> io::Result<()>) -> io::Result<()> {
        let joined;
        let data: &[u8] = if self.pending.is_empty() {
            buf
        } else {
            let mut v = std::mem::take(&mut self.pending);
            v.extend_from_slice(buf);
            joined = v;
            &joined
        };
        let (text, tail) = match std::str::from_utf8(data) {
            Ok(s) => (s, &[][..]),
            Err(e) if e.error_len().is_none() => {
                let (ok, tail) = data.split_at(e.valid_up_to());
                // `valid_up_to` marks the end of valid UTF-8, so this cannot fail.
                (std::str::from_utf8(ok).unwrap_or_default(), tail)
            }
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the writer produced invalid UTF-8",
                ))
            }
        };
        f(text)?;
        self.pending = tail.to_vec();
        Ok(())
    }

    fn finish(&self) -> io::Result<()> {
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the writer ended inside a UTF-8 sequence",
            ))
        }
    }
}

/// UTF-8 in, a legacy encoding (GBK for the Alipay bill) out. Characters the encoding lacks
/// come out as HTML numeric references (`&#128512;`), as the Encoding Standard specifies.
pub struct Transcode<W: Write> {
    inner: W,
    encoder: Encoder,
    carry: Utf8Carry,
    out: Vec<u8>,
}

impl<W: Write> Transcode<W> {
    /// Encode into `inner` with `encoding` (e.g. `encoding_rs::GBK`).
    pub fn new(inner: W, encoding: &'static encoding_rs::Encoding) -> Self {
        Transcode {
            inner,
            encoder: encoding.new_encoder(),
            carry: Utf8Carry::default(),
            out: vec![0; ENCODE_CHUNK_BYTES],
        }
    }

    fn encode(
        encoder: &mut Encoder,
        out: &mut [u8],
        inner: &mut W,
        mut text: &str,
        last: bool,
    ) -> io::Result<()> {
        loop {
            let (result, read, written, _) = encoder.encode_from_utf8(text, out, last);
            inner.write_all(&out[..written])?;
            text = &text[read..];
            if result == CoderResult::InputEmpty {
                return Ok(());
            }
        }
    }

    /// Flush the encoder's state and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.carry.finish()?;
        Self::encode(&mut self.encoder, &mut self.out, &mut self.inner, "", true)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Transcode<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Transcode {
            inner,
            encoder,
            carry,
            out,
        } = self;
        carry.feed(buf, |text| Self::encode(encoder, out, inner, text, false))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// UTF-8 in, UTF-16LE out without a byte-order mark: what a Windows export tool writes when
/// told "Unicode". Used for the `encoding` mismatch of the XML and MT940 files.
pub struct Utf16Le<W: Write> {
    inner: W,
    carry: Utf8Carry,
    out: Vec<u8>,
}

impl<W: Write> Utf16Le<W> {
    /// Encode into `inner`.
    pub fn new(inner: W) -> Self {
        Utf16Le {
            inner,
            carry: Utf8Carry::default(),
            out: Vec::with_capacity(ENCODE_CHUNK_BYTES),
        }
    }
    /// Check nothing is left half-written and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.carry.finish()?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Utf16Le<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Utf16Le { inner, carry, out } = self;
        carry.feed(buf, |text| {
            for unit in text.encode_utf16() {
                out.extend_from_slice(&unit.to_le_bytes());
                if out.len() >= ENCODE_CHUNK_BYTES {
                    inner.write_all(out)?;
                    out.clear();
                }
            }
            inner.write_all(out)?;
            out.clear();
            Ok(())
        })?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Passes the first `keep` bytes through and silently drops the rest: a download cut short.
/// The writer upstream carries on as if all went well, as a server whose connection dropped
/// mid-file would.
pub struct Truncate<W: Write> {
    inner: W,
    left: u64,
}

impl<W: Write> Truncate<W> {
    /// Keep `keep` bytes of what is written.
    pub fn new(inner: W, keep: u64) -> Self {
        Truncate { inner, left: keep }
    }
    /// The inner writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for Truncate<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        if n > 0 {
            self.inner.write_all(&buf[..n])?;
            self.left -= n as u64;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Counts bytes and discards them: sizes a file without keeping it.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingSink {
    /// Bytes written so far.
    pub bytes: u64,
}

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_survives_characters_split_across_writes() {
        let text = "#支付宝业务明细查询\r\n交易,退款";
        let mut enc = Transcode::new(Vec::new(), encoding_rs::GBK);
        for b in text.as_bytes() {
            enc.write_all(std::slice::from_ref(b)).unwrap();
        }
        let bytes = enc.finish().unwrap();
        let (decoded, _, bad) = encoding_rs::GBK.decode(&bytes);
        assert!(!bad);
        assert_eq!(decoded, text);
        assert_ne!(bytes, text.as_bytes());
    }

    #[test]
    fn utf16_is_little_endian_without_bom() {
        let mut enc = Utf16Le::new(Vec::new());
        enc.write_all("A支".as_bytes()).unwrap();
        assert_eq!(enc.finish().unwrap(), vec![0x41, 0x00, 0x2F, 0x65]);
    }

    #[test]
    fn truncation_keeps_exactly_the_prefix() {
        let mut t = Truncate::new(Vec::new(), 5);
        t.write_all(b"abc").unwrap();
        t.write_all(b"defgh").unwrap();
        assert_eq!(t.into_inner(), b"abcde");
    }
}
