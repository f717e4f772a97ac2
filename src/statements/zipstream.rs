//! A ZIP archive written as a stream, its member names stored as the bytes given. The Alipay
//! bill names its members in GBK without the UTF-8 flag (general purpose bit 11), as the real
//! downloads are reported to (docs/statements.md, "ZIP member names"); the `zip` crate writes
//! every name as UTF-8 and sets that flag, so the bill has this small writer of its own.
//!
//! Each member is a local header without sizes or CRC (general purpose bit 3), its deflated
//! bytes, then a data descriptor; the central directory follows the last member. Nothing is
//! held but the deflate state and, per member, its name, CRC, sizes and offset. Every member
//! carries the same fixed time (1980-01-01 00:00, the earliest a ZIP can say), so an archive
//! is the same bytes every time it is written.
//!
//! No ZIP64: an archive that would pass 4 GiB, or more than 65,535 members, is an error.

use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc};
use std::io::{self, Write};

const LOCAL_HEADER: u32 = 0x0403_4b50;
const DATA_DESCRIPTOR: u32 = 0x0807_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
/// Version needed to extract: 2.0 (deflate, data descriptors).
const VERSION_NEEDED: u16 = 20;
/// Version made by: 2.0, on Unix (host 3), which gives the external attributes their meaning.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
/// General purpose flags: bit 3 only (CRC and sizes in the data descriptor). Bit 11, "the
/// name is UTF-8", stays clear: the names are whatever bytes the caller gives.
const FLAGS: u16 = 1 << 3;
const DEFLATED: u16 = 8;
/// 00:00:00 and 1980-01-01 in MS-DOS form.
const DOS_TIME: u16 = 0;
const DOS_DATE: u16 = (1 << 5) | 1;
/// A regular file, `rw-r--r--`, as Unix mode bits in the high half.
const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;

/// What the central directory needs of a member.
struct Member {
    name: Vec<u8>,
    crc: u32,
    compressed: u32,
    size: u32,
    offset: u32,
}

/// Counts the bytes passed on to `inner`: the offsets of the archive.
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn too_big(what: &str) -> io::Error {
    io::Error::other(format!(
        "the ZIP's {what} passes what a ZIP without ZIP64 can say"
    ))
}

fn u32_of(n: u64, what: &str) -> io::Result<u32> {
    u32::try_from(n).map_err(|_| too_big(what))
}

/// A ZIP being written to `W`, one member at a time.
pub struct ZipStream<W: Write> {
    out: Counted<W>,
    members: Vec<Member>,
}

impl<W: Write> ZipStream<W> {
    /// An empty archive written to `out`.
    pub fn new(out: W) -> Self {
        ZipStream {
            out: Counted {
                inner: out,
                bytes: 0,
            },
            members: Vec::new(),
        }
    }

    /// Start a member stored under `name`, byte for byte (no UTF-8 flag). Write its content
    /// into the returned writer, then [`MemberWriter::finish`] it before the next member.
    pub fn member(&mut self, name: &[u8]) -> io::Result<MemberWriter<'_, W>> {
        let name_len = u16::try_from(name.len()).map_err(|_| too_big("member name"))?;
        let offset = u32_of(self.out.bytes, "size")?;
        let mut header = Vec::with_capacity(30 + name.len());
        header.extend_from_slice(&LOCAL_HEADER.to_le_bytes());
        header.extend_from_slice(&VERSION_NEEDED.to_le_bytes());
        header.extend_from_slice(&FLAGS.to_le_bytes());
        header.extend_from_slice(&DEFLATED.to_le_bytes());
        header.extend_from_slice(&DOS_TIME.to_le_bytes());
        header.extend_from_slice(&DOS_DATE.to_le_bytes());
        // CRC, compressed and uncompressed size: in the data descriptor (bit 3).
        header.extend_from_slice(&[0; 12]);
        header.extend_from_slice(&name_len.to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes()); // no extra field
        header.extend_from_slice(name);
        self.out.write_all(&header)?;
        let ZipStream { out, members } = self;
        Ok(MemberWriter {
            deflate: DeflateEncoder::new(out, Compression::default()),
            crc: Crc::new(),
            name: name.to_vec(),
            offset,
            members,
        })
    }

    /// Write the central directory and return the output.
    pub fn finish(mut self) -> io::Result<W> {
        let start = u32_of(self.out.bytes, "size")?;
        let count = u16::try_from(self.members.len()).map_err(|_| too_big("member count"))?;
        for m in &self.members {
            let mut h = Vec::with_capacity(46 + m.name.len());
            h.extend_from_slice(&CENTRAL_HEADER.to_le_bytes());
            h.extend_from_slice(&VERSION_MADE_BY.to_le_bytes());
            h.extend_from_slice(&VERSION_NEEDED.to_le_bytes());
            h.extend_from_slice(&FLAGS.to_le_bytes());
            h.extend_from_slice(&DEFLATED.to_le_bytes());
            h.extend_from_slice(&DOS_TIME.to_le_bytes());
            h.extend_from_slice(&DOS_DATE.to_le_bytes());
            h.extend_from_slice(&m.crc.to_le_bytes());
            h.extend_from_slice(&m.compressed.to_le_bytes());
            h.extend_from_slice(&m.size.to_le_bytes());
            // The name fitted a u16 when its member was started.
            h.extend_from_slice(&(m.name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra field
            h.extend_from_slice(&0u16.to_le_bytes()); // comment
            h.extend_from_slice(&0u16.to_le_bytes()); // disk number
            h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            h.extend_from_slice(&EXTERNAL_ATTRIBUTES.to_le_bytes());
            h.extend_from_slice(&m.offset.to_le_bytes());
            h.extend_from_slice(&m.name);
            self.out.write_all(&h)?;
        }
        let size = u32_of(self.out.bytes - u64::from(start), "central directory")?;
        let mut end = Vec::with_capacity(22);
        end.extend_from_slice(&END_OF_CENTRAL_DIRECTORY.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes()); // this disk
        end.extend_from_slice(&0u16.to_le_bytes()); // disk of the central directory
        end.extend_from_slice(&count.to_le_bytes()); // members on this disk
        end.extend_from_slice(&count.to_le_bytes()); // members in all
        end.extend_from_slice(&size.to_le_bytes());
        end.extend_from_slice(&start.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes()); // no comment
        self.out.write_all(&end)?;
        self.out.flush()?;
        Ok(self.out.inner)
    }
}

/// The content of one member: deflated on its way out, its CRC kept.
pub struct MemberWriter<'a, W: Write> {
    deflate: DeflateEncoder<&'a mut Counted<W>>,
    crc: Crc,
    name: Vec<u8>,
    offset: u32,
    members: &'a mut Vec<Member>,
}

impl<W: Write> MemberWriter<'_, W> {
    /// End the member: flush the deflate stream and write the data descriptor.
    pub fn finish(mut self) -> io::Result<()> {
        self.deflate.try_finish()?;
        let crc = self.crc.sum();
        let size = u32_of(self.deflate.total_in(), "member")?;
        let compressed = u32_of(self.deflate.total_out(), "member")?;
        let out = self.deflate.get_mut();
        let mut d = Vec::with_capacity(16);
        d.extend_from_slice(&DATA_DESCRIPTOR.to_le_bytes());
        d.extend_from_slice(&crc.to_le_bytes());
        d.extend_from_slice(&compressed.to_le_bytes());
        d.extend_from_slice(&size.to_le_bytes());
        out.write_all(&d)?;
        self.members.push(Member {
            name: std::mem::take(&mut self.name),
            crc,
            compressed,
            size,
            offset: self.offset,
        });
        Ok(())
    }
}

impl<W: Write> Write for MemberWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.deflate.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.deflate.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// "业务明细.csv" in GBK.
    const GBK_NAME: &[u8] = b"\xd2\xb5\xce\xf1\xc3\xf7\xcf\xb8.csv";

    fn archive() -> Vec<u8> {
        let mut zip = ZipStream::new(Vec::new());
        let mut m = zip.member(GBK_NAME).unwrap();
        for _ in 0..1000 {
            m.write_all(b"#\xd6\xa7\xb8\xb6\xb1\xa6,0.01\r\n").unwrap();
        }
        m.finish().unwrap();
        let m = zip.member(b"empty.txt").unwrap();
        m.finish().unwrap();
        zip.finish().unwrap()
    }

    #[test]
    fn the_name_is_stored_as_given_without_the_utf8_flag() {
        let bytes = archive();
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        let flags = u16::from_le_bytes([bytes[6], bytes[7]]);
        assert_eq!(
            flags,
            1 << 3,
            "bit 3 (data descriptor) only, not bit 11 (UTF-8)"
        );
        assert_eq!(&bytes[30..30 + GBK_NAME.len()], GBK_NAME);
        assert_eq!(
            encoding_rs::GBK.decode(GBK_NAME).0,
            "业务明细.csv",
            "the test's name is GBK"
        );
    }

    #[test]
    fn a_zip_reader_reads_it_back() {
        let bytes = archive();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(z.len(), 2);
        let mut first = z.by_index(0).unwrap();
        assert_eq!(first.name_raw(), GBK_NAME);
        let mut content = Vec::new();
        // Reading to the end checks the CRC.
        first.read_to_end(&mut content).unwrap();
        assert_eq!(content.len(), 1000 * 14);
        drop(first);
        let mut second = z.by_index(1).unwrap();
        assert_eq!(second.name(), "empty.txt");
        let mut content = Vec::new();
        second.read_to_end(&mut content).unwrap();
        assert!(content.is_empty());
    }

    #[test]
    fn the_same_content_gives_the_same_bytes() {
        assert_eq!(archive(), archive());
    }
}
