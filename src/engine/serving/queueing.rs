//! Closed-form queueing results the simulator is checked against, and that
//! the UI can show beside the simulated numbers.

/// The Erlang C probability that an arrival waits, for `servers` servers
/// offered `offered_load = λ/μ` erlangs; `None` unless the queue is stable
/// (`offered_load < servers`). Computed through the Erlang B recursion,
/// which never overflows.
pub fn erlang_c(servers: u32, offered_load: f64) -> Option<f64> {
    let c = f64::from(servers);
    if servers == 0 || !(offered_load >= 0.0 && offered_load < c) {
        return None;
    }
    let mut b = 1.0;
    for k in 1..=servers {
        b = offered_load * b / (f64::from(k) + offered_load * b);
    }
    let rho = offered_load / c;
    Some(b / (1.0 - rho * (1.0 - b)))
}

/// Mean time in the queue (before service starts) of an M/M/c queue with
/// arrival rate `lambda`, service rate `mu` per server and `servers`
/// servers: `C(c, λ/μ) / (cμ − λ)`. M/M/1 is `servers = 1`, where it is
/// `ρ / (μ − λ)`. `None` unless the queue is stable.
pub fn mmc_mean_wait(lambda: f64, mu: f64, servers: u32) -> Option<f64> {
    if !(lambda > 0.0 && mu > 0.0) {
        return None;
    }
    let c = erlang_c(servers, lambda / mu)?;
    Some(c / (f64::from(servers) * mu - lambda))
}

/// Mean time in the queue of an M/D/1 queue (Poisson arrivals, a fixed
/// service time `1/mu`), by Pollaczek–Khinchine: `ρ / (2μ(1 − ρ))`, half of
/// M/M/1's. `None` unless `λ < μ`.
pub fn md1_mean_wait(lambda: f64, mu: f64) -> Option<f64> {
    let rho = lambda / mu;
    (lambda > 0.0 && mu > 0.0 && rho < 1.0).then(|| rho / (2.0 * mu * (1.0 - rho)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_c_matches_known_values() {
        // One server: C = ρ.
        assert!((erlang_c(1, 0.7).unwrap_or(0.0) - 0.7).abs() < 1e-12);
        // Two servers at a = 1: C = a²/(2 - a) / (1 + a + a²/(2 - a)) = 1/3.
        assert!((erlang_c(2, 1.0).unwrap_or(0.0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(erlang_c(2, 2.0), None);
        // M/M/1 at λ = 0.8, μ = 1: Wq = 0.8 / 0.2 = 4.
        assert!((mmc_mean_wait(0.8, 1.0, 1).unwrap_or(0.0) - 4.0).abs() < 1e-12);
        assert!((md1_mean_wait(0.8, 1.0).unwrap_or(0.0) - 2.0).abs() < 1e-12);
    }
}
