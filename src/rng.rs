//! The seeded random generators. Every random choice in a world (ids, nonces, fault
//! probabilities) draws from the world's generator or from a keyed stream derived from the
//! same seed ([`Streams`]), so the same seed and the same inputs give the same run.

use hashbrown::hash_map::EntryRef;
use hashbrown::HashMap;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::collections::VecDeque;
use std::sync::Arc;

/// The world's generator.
#[derive(Debug, Clone)]
pub struct WorldRng {
    /// The seed the run started from; printed on failures so the run can be reproduced.
    seed: u64,
    inner: ChaCha8Rng,
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl WorldRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> WorldRng {
        WorldRng {
            seed,
            inner: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A uniformly random u64.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A random string of `len` ASCII letters and digits (nonces).
    pub fn alnum(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        for _ in 0..len {
            s.push(ALNUM[(self.inner.next_u32() as usize) % ALNUM.len()] as char);
        }
        s
    }

    /// A random string of `len` decimal digits (transaction ids).
    pub fn digits(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b'0' + (self.inner.next_u32() % 10) as u8))
            .collect()
    }

    /// True with probability `ppm` parts per million. Integer arithmetic, so the outcome
    /// for a given seed does not depend on floating-point details.
    pub fn chance_ppm(&mut self, ppm: u32) -> bool {
        ppm >= 1_000_000 || (self.inner.next_u32() % 1_000_000) < ppm
    }
}

/// How many keyed streams [`Streams`] remembers. Each costs its key and a position (tens of
/// bytes), so the cap keeps a long run's memory flat; 65,536 covers every order and payout a
/// test or CI run makes in practice (the journal itself keeps 10,000 entries). A stream
/// forgotten past the cap starts again from its beginning if its key comes back.
pub const STREAM_CAPACITY: usize = 65_536;

/// Seeded streams, one per (instance, key), each derived from the world seed and its key:
/// what one order or payout draws does not depend on what other orders drew before it, so
/// the same requests give the same ids whatever order concurrent clients' requests and
/// background notifications reach the world in.
///
/// Only each stream's position is kept; a draw rebuilds the generator from the derived seed
/// (ChaCha has no key schedule, so this is cheap) and seeks to it.
#[derive(Debug, Clone, Default)]
pub struct Streams {
    /// Each stream's derived seed and position, by `instance \0 key`: a stream opened again
    /// is found without hashing its key again or allocating.
    positions: HashMap<Arc<str>, Slot>,
    /// Names in the order they were first opened, oldest first (forgotten first).
    order: VecDeque<Arc<str>>,
    /// Where the name of the stream asked for is put together, reused.
    scratch: String,
}

/// One remembered stream.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// The world seed it was derived under.
    world_seed: u64,
    /// Its ChaCha seed ([`derive`]).
    seed: [u8; 32],
    /// Words drawn so far.
    pos: u128,
}

impl Streams {
    /// The stream of `key` at `instance` under world seed `seed`, at its current position;
    /// the position advances by what is drawn through the returned guard.
    pub fn get(&mut self, seed: u64, instance: &str, key: &str) -> Stream<'_> {
        self.scratch.clear();
        self.scratch.push_str(instance);
        self.scratch.push('\0');
        self.scratch.push_str(key);
        let fresh = || Slot {
            world_seed: seed,
            seed: derive(seed, instance, key),
            pos: 0,
        };
        let Streams {
            positions,
            order,
            scratch,
            ..
        } = self;
        // Room first, so that the lookup below is the only one on the common path.
        if positions.len() >= STREAM_CAPACITY && !positions.contains_key(scratch.as_str()) {
            if let Some(old) = order.pop_front() {
                positions.remove(&old);
            }
        }
        let slot = match positions.entry_ref(scratch.as_str()) {
            EntryRef::Occupied(o) => {
                let slot = o.into_mut();
                if slot.world_seed != seed {
                    *slot = fresh();
                }
                slot
            }
            EntryRef::Vacant(v) => {
                let name: Arc<str> = Arc::from(scratch.as_str());
                order.push_back(name.clone());
                v.insert_with_key(name, fresh())
            }
        };
        let mut inner = ChaCha8Rng::from_seed(slot.seed);
        inner.set_word_pos(slot.pos);
        Stream {
            rng: WorldRng { seed, inner },
            start: slot.pos,
            pos: &mut slot.pos,
        }
    }

    /// How many streams are remembered.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

/// The stream of `key` at `instance` under world seed `seed` from its beginning, whatever
/// has been drawn from it: what it gave (or will give) first, derived again. Nothing is
/// remembered.
pub fn stream_from_start(seed: u64, instance: &str, key: &str) -> WorldRng {
    WorldRng {
        seed,
        inner: ChaCha8Rng::from_seed(derive(seed, instance, key)),
    }
}

/// The 32-byte seed of the stream `(instance, key)`: SHA-256 over the world seed and the key,
/// length-prefixed so that no two (instance, key) pairs share an input.
fn derive(seed: u64, instance: &str, key: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"sandbank stream v1\0");
    h.update(seed.to_le_bytes());
    h.update((instance.len() as u64).to_le_bytes());
    h.update(instance.as_bytes());
    h.update((key.len() as u64).to_le_bytes());
    h.update(key.as_bytes());
    h.finalize().into()
}

/// One keyed stream, borrowed: draw from it like the world's generator; its position is
/// saved when it is dropped.
#[derive(Debug)]
pub struct Stream<'a> {
    rng: WorldRng,
    start: u128,
    pos: &'a mut u128,
}

impl Stream<'_> {
    /// True when nothing had been drawn from the stream before this guard (or it was
    /// forgotten since): its draws are then exactly [`stream_from_start`]'s.
    pub fn at_start(&self) -> bool {
        self.start == 0
    }
}

impl std::ops::Deref for Stream<'_> {
    type Target = WorldRng;
    fn deref(&self) -> &WorldRng {
        &self.rng
    }
}

impl std::ops::DerefMut for Stream<'_> {
    fn deref_mut(&mut self) -> &mut WorldRng {
        &mut self.rng
    }
}

impl Drop for Stream<'_> {
    fn drop(&mut self) {
        *self.pos = self.rng.inner.get_word_pos();
    }
}

/// Something that can answer "does an event of `ppm` parts per million happen?": the
/// world's generator, a keyed stream, or a closure that opens a stream only when asked (so
/// a request no probabilistic rule looks at costs no stream).
pub trait Chance {
    /// True with probability `ppm` / 1,000,000.
    fn chance_ppm(&mut self, ppm: u32) -> bool;
}

impl Chance for WorldRng {
    fn chance_ppm(&mut self, ppm: u32) -> bool {
        WorldRng::chance_ppm(self, ppm)
    }
}

impl Chance for Stream<'_> {
    fn chance_ppm(&mut self, ppm: u32) -> bool {
        self.rng.chance_ppm(ppm)
    }
}

impl<F: FnMut(u32) -> bool> Chance for F {
    fn chance_ppm(&mut self, ppm: u32) -> bool {
        self(ppm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws() {
        let mut a = WorldRng::new(7);
        let mut b = WorldRng::new(7);
        assert_eq!(a.alnum(32), b.alnum(32));
        assert_eq!(a.digits(10), b.digits(10));
        let mut c = WorldRng::new(8);
        assert_ne!(WorldRng::new(7).alnum(32), c.alnum(32));
    }

    #[test]
    fn chance_bounds() {
        let mut r = WorldRng::new(1);
        assert!((0..100).all(|_| r.chance_ppm(1_000_000)));
        assert!((0..100).all(|_| !r.chance_ppm(0)));
        let hits = (0..10_000).filter(|_| r.chance_ppm(500_000)).count();
        assert!((4_000..6_000).contains(&hits), "{hits}");
    }

    #[test]
    fn keyed_streams_do_not_depend_on_interleaving() {
        let mut a = Streams::default();
        let x1 = a.get(7, "wxpay", "X").alnum(16);
        let y1 = a.get(7, "wxpay", "Y").alnum(16);
        let x2 = a.get(7, "wxpay", "X").alnum(16);
        let mut b = Streams::default();
        assert_eq!(b.get(7, "wxpay", "Y").alnum(16), y1);
        assert_eq!(b.get(7, "wxpay", "X").alnum(16), x1);
        assert_eq!(b.get(7, "wxpay", "X").alnum(16), x2);
        assert_ne!(x1, x2, "a stream moves on");
        assert_ne!(
            b.get(8, "wxpay", "Z").alnum(16),
            a.get(7, "wxpay", "Z").alnum(16)
        );
        assert_ne!(a.get(7, "bank", "X").alnum(16), x1, "instances are apart");
    }

    #[test]
    fn a_stream_from_its_start_repeats_its_first_draws() {
        let mut a = Streams::default();
        let mut s = a.get(7, "wxpay", "X");
        assert!(s.at_start());
        let first = s.alnum(26);
        let second = s.alnum(7);
        drop(s);
        let mut again = stream_from_start(7, "wxpay", "X");
        assert_eq!((again.alnum(26), again.alnum(7)), (first, second));
        assert!(!a.get(7, "wxpay", "X").at_start(), "the stream moved on");
    }

    #[test]
    fn keyed_streams_are_bounded() {
        let mut s = Streams::default();
        for i in 0..(STREAM_CAPACITY + 10) {
            s.get(1, "i", &i.to_string()).next_u64();
        }
        assert_eq!(s.len(), STREAM_CAPACITY);
    }
}
