//! Randomness, below everything that needs it (the store mints event ids with it).

/// Fresh random bytes from the runtime's CSPRNG (crypto.getRandomValues).
pub fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the runtime provides crypto.getRandomValues");
    b
}
