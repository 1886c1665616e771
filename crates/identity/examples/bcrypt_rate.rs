//! The machine's bcrypt rate: hashes/s at a cost, using every core (one
//! thread each), for comparison with token issue throughput.
//!
//!     cargo run --release -p rustack-identity --example bcrypt_rate -- 12 10

use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let cost: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(12);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let hash = bcrypt::hash("password-for-rate", cost).expect("hash");
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let h = hash.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    assert!(bcrypt::verify("password-for-rate", &h).unwrap());
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let rate = total as f64 / start.elapsed().as_secs_f64();
    println!("RESULT bcrypt_cost={cost} threads={threads} verifications={total} rate_per_s={rate:.2}");
}
