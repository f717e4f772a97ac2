//! Bodies too large to hold: a [`Spool`] keeps up to [`SPOOL_MEMORY_BYTES`] in memory,
//! then moves to an unlinked temporary file that the server streams in
//! [`SPOOL_CHUNK_BYTES`] chunks, so serving a statement of any size costs a bounded amount
//! of memory.

use bytes::Bytes;

/// Bytes a [`Spool`] holds in memory before it moves to a file. Most statements (a day of a
/// small merchant) are far below it and never touch the disk; a million-row bill is hundreds
/// of megabytes and goes to disk, so serving it costs this much memory, not its size.
pub const SPOOL_MEMORY_BYTES: usize = 1 << 20;

/// Size of the chunks a spooled body is read and sent in.
pub const SPOOL_CHUNK_BYTES: usize = 64 << 10;

/// A body on disk: an unlinked temporary file (it disappears with its last handle), read once.
#[derive(Debug, Clone)]
pub struct Spooled {
    /// Its length in bytes.
    pub len: u64,
    /// The file, positioned at its start; taken by the one response that streams it.
    file: std::sync::Arc<std::sync::Mutex<Option<std::fs::File>>>,
}

impl Spooled {
    /// Take the file to stream it; `None` if it was taken already.
    pub fn take(&self) -> Option<std::fs::File> {
        self.file.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// What a [`Spool`] collected.
#[derive(Debug)]
pub enum SpoolBody {
    /// Small enough to keep.
    Memory(Bytes),
    /// On disk.
    File(Spooled),
}

/// A writer for reply bodies of any size: it keeps up to [`SPOOL_MEMORY_BYTES`] in memory,
/// then moves what it has to an unlinked temporary file and writes on there. Statement
/// writers stream into it under the world's lock, which is then released while the client
/// reads at its own pace.
#[derive(Debug, Default)]
pub struct Spool {
    memory: Vec<u8>,
    file: Option<std::io::BufWriter<std::fs::File>>,
    len: u64,
}

impl Spool {
    /// An empty spool.
    pub fn new() -> Spool {
        Spool::default()
    }

    fn open_file() -> std::io::Result<std::fs::File> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("sandbank-spool-{}-{n}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        // Unlinked at once: the open handle keeps the data; nothing is left behind on exit.
        std::fs::remove_file(&path)?;
        Ok(file)
    }

    /// Finish writing and hand over what was collected.
    pub fn finish(self) -> std::io::Result<SpoolBody> {
        use std::io::{Seek, SeekFrom};
        match self.file {
            None => Ok(SpoolBody::Memory(Bytes::from(self.memory))),
            Some(w) => {
                let mut file = w.into_inner().map_err(|e| e.into_error())?;
                file.seek(SeekFrom::Start(0))?;
                Ok(SpoolBody::File(Spooled {
                    len: self.len,
                    file: std::sync::Arc::new(std::sync::Mutex::new(Some(file))),
                }))
            }
        }
    }
}

impl std::io::Write for Spool {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.file.is_none() && self.memory.len() + buf.len() > SPOOL_MEMORY_BYTES {
            let mut w = std::io::BufWriter::with_capacity(SPOOL_CHUNK_BYTES, Spool::open_file()?);
            w.write_all(&self.memory)?;
            self.memory = Vec::new();
            self.file = Some(w);
        }
        match &mut self.file {
            Some(w) => w.write_all(buf)?,
            None => self.memory.extend_from_slice(buf),
        }
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.file {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_spool_stays_in_memory() {
        use std::io::Write;
        let mut s = Spool::new();
        s.write_all(b"hello").unwrap();
        match s.finish().unwrap() {
            SpoolBody::Memory(b) => assert_eq!(&b[..], b"hello"),
            SpoolBody::File(_) => panic!("5 bytes went to disk"),
        }
    }

    #[test]
    fn a_large_spool_moves_to_an_unlinked_file_and_reads_back_whole() {
        use std::io::{Read, Write};
        let line = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n";
        let mut s = Spool::new();
        let n = SPOOL_MEMORY_BYTES / line.len() * 3;
        for _ in 0..n {
            s.write_all(line).unwrap();
        }
        let SpoolBody::File(spooled) = s.finish().unwrap() else {
            panic!("3 MiB stayed in memory")
        };
        assert_eq!(spooled.len, (n * line.len()) as u64);
        let mut back = Vec::new();
        spooled
            .take()
            .expect("the file is there once")
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back.len(), n * line.len());
        assert!(back.chunks(line.len()).all(|c| c == line));
        assert!(spooled.take().is_none(), "a spooled body is streamed once");
        let leftovers = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("sandbank-spool-{}-", std::process::id()))
            })
            .count();
        assert_eq!(leftovers, 0, "spool files are unlinked at once");
    }
}
