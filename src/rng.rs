//! The one seeded random generator. Every random choice in a world (ids, nonces, fault
//! probabilities) draws from it, so the same seed and the same inputs give the same run.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

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
        (0..len)
            .map(|_| ALNUM[(self.inner.next_u32() as usize) % ALNUM.len()] as char)
            .collect()
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
}
