//! `make bench-policy`: matcher lookups per second at 10, 1,000 and 100,000 patterns, against a linear scan
//! over the same patterns in the same run. Prints figures; asserts nothing about time.

use std::hint::black_box;
use std::time::{Duration, Instant};

use mcp_egress_policy::matcher::linear_permitting;
use mcp_egress_policy::{Domain, DomainPattern, Matcher};

/// Deterministic patterns: a mix of exact names and wildcards over a spread of zones.
fn patterns(n: usize) -> Vec<DomainPattern> {
    (0..n)
        .map(|i| {
            let text = if i % 4 == 0 {
                format!("*.zone{i}.example{}.com", i % 97)
            } else {
                format!("api{i}.zone{}.example{}.com", i / 4, i % 97)
            };
            DomainPattern::parse(&text).expect("generated patterns are valid")
        })
        .collect()
}

/// Hosts to look up: half permitted (exact or under a wildcard), half not.
fn hosts(n: usize, count: usize) -> Vec<Domain> {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    (0..count)
        .map(|k| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % n.max(1);
            let text = match k % 4 {
                0 => format!("api{i}.zone{}.example{}.com", i / 4, i % 97),
                1 => format!("deep.svc.zone{}.example{}.com", i - i % 4, (i - i % 4) % 97),
                2 => format!("exfil{i}.attacker.io"),
                _ => format!("nothing.zone{i}.example{}.net", i % 97),
            };
            Domain::parse(&text).expect("generated hosts are valid")
        })
        .collect()
}

/// Runs `f` over `hosts` repeatedly for at least `budget`, returning lookups per second.
fn rate(hosts: &[Domain], budget: Duration, mut f: impl FnMut(&Domain) -> bool) -> f64 {
    let start = Instant::now();
    let mut done = 0u64;
    let mut permitted = 0u64;
    while start.elapsed() < budget {
        for h in hosts {
            permitted += f(h) as u64;
            done += 1;
        }
    }
    black_box(permitted);
    done as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let budget = Duration::from_millis(std::env::var("BENCH_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(700));
    println!("policy matcher: lookups per second (each figure measured for {} ms)", budget.as_millis());
    println!("{:>10}  {:>16}  {:>16}  {:>10}", "patterns", "matcher", "linear scan", "speed-up");
    let mut at_10 = None;
    let mut at_max = None;
    for n in [10usize, 1_000, 100_000] {
        let ps = patterns(n);
        let matcher = Matcher::new(ps.clone());
        let hs = hosts(n, 4096);
        let fast = rate(&hs, budget, |h| matcher.permitting(h).is_some());
        // The scan is orders of magnitude slower at large n; fewer hosts keep its run inside the budget.
        let scan_hosts = &hs[..if n > 10_000 { 64 } else { hs.len() }];
        let slow = rate(scan_hosts, budget, |h| linear_permitting(&ps, h).is_some());
        // Both must agree, or the figures mean nothing.
        for h in scan_hosts {
            assert_eq!(matcher.permitting(h), linear_permitting(&ps, h), "matcher and scan disagree on {h}");
        }
        println!("{n:>10}  {fast:>16.0}  {slow:>16.0}  {:>9.1}x", fast / slow);
        if n == 10 {
            at_10 = Some(fast);
        }
        at_max = Some(fast);
    }
    if let (Some(small), Some(large)) = (at_10, at_max) {
        println!(
            "matcher at 100,000 patterns / at 10 patterns: {:.2} (1.00 = no slowdown; goal: at least 0.50)",
            large / small
        );
    }
}
