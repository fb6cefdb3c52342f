//! The fuzzing corpus (`fuzz/corpus/`, grown by `cargo fuzz`) replayed
//! through the parser and the switch, then mutated: bytes flipped,
//! dropped, repeated and cut, many thousand times with a fixed seed. No
//! input may panic either.

use std::path::Path;

use sb_sip::fuzzing::{message_once, switch_once};

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    assert!(!out.is_empty(), "the {target} corpus is empty");
    out
}

/// xorshift64*: a fixed, seeded stream (no dependency for a test).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(v.len() + 1);
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 if at < v.len() => {
                v.remove(at);
            }
            2 => v.insert(at, b"\r\n:;<>\",= @\0"[rng.below(12)]),
            3 => v.truncate(at),
            4 if at < v.len() => {
                // Repeat a run: long headers, many of them.
                let end = (at + 1 + rng.below(64)).min(v.len());
                let run = v[at..end].to_vec();
                for _ in 0..rng.below(200) {
                    v.splice(at..at, run.iter().copied());
                }
            }
            5 => {
                let i = rng.below(v.len().max(1));
                let digit = b"0123456789999999"[rng.below(16)];
                if i < v.len() {
                    v[i] = digit;
                }
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v
}

#[test]
fn the_corpus_parses_or_is_refused_without_panicking() {
    for data in corpus("message") {
        message_once(&data);
    }
    for data in corpus("switch") {
        switch_once(&data);
    }
}

#[test]
fn mutated_messages_never_panic() {
    let seeds = corpus("message");
    let mut rng = Rng(0x5eed_0000_0000_0001);
    for _ in 0..30_000 {
        let seed = &seeds[rng.below(seeds.len())];
        message_once(&mutate(&mut rng, seed));
    }
}

#[test]
fn mutated_exchanges_never_panic_the_switch() {
    let seeds = corpus("switch");
    let mut rng = Rng(0x5eed_0000_0000_0002);
    for _ in 0..3_000 {
        let seed = &seeds[rng.below(seeds.len())];
        switch_once(&mutate(&mut rng, seed));
    }
}
