//! Train, validation and test splits: at random, or by time.

use rand::seq::SliceRandom;

use crate::engine::rng::StageRng;

/// How rows are divided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SplitKind {
    /// Rows shuffled, then cut by fraction. Rows of the same user, post and
    /// day land on both sides, so offline numbers come out optimistic.
    Random { valid: f64, test: f64 },
    /// The last `test_days` days are the test set, the `valid_days` before
    /// them validation, everything earlier training: as in production.
    ByTime { valid_days: u16, test_days: u16 },
}

/// Row indices of each part, in row order (random splits: shuffled order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
    pub test: Vec<usize>,
}

/// Splits rows whose days are `day`.
pub fn split(day: &[u16], kind: SplitKind, rng: &mut StageRng) -> Split {
    let n = day.len();
    match kind {
        SplitKind::Random { valid, test } => {
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(rng);
            let n_test = ((n as f64) * test.clamp(0.0, 1.0)) as usize;
            let n_valid = (((n as f64) * valid.clamp(0.0, 1.0)) as usize).min(n - n_test);
            let mut out = Split {
                test: order[..n_test].to_vec(),
                valid: order[n_test..n_test + n_valid].to_vec(),
                train: order[n_test + n_valid..].to_vec(),
            };
            // Keep each part in row (time) order: training visits batches of
            // consecutive rows, so this keeps memory access sequential.
            out.train.sort_unstable();
            out.valid.sort_unstable();
            out.test.sort_unstable();
            out
        }
        SplitKind::ByTime {
            valid_days,
            test_days,
        } => {
            let last = day.iter().copied().max().unwrap_or(0);
            let test_from = (last + 1).saturating_sub(test_days);
            let valid_from = test_from.saturating_sub(valid_days);
            let mut out = Split::default();
            for (i, &d) in day.iter().enumerate() {
                if d >= test_from {
                    out.test.push(i);
                } else if d >= valid_from {
                    out.valid.push(i);
                } else {
                    out.train.push(i);
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::Seed;

    #[test]
    fn time_split_puts_the_last_days_last() {
        let day: Vec<u16> = (0..100).map(|i| i / 10).collect();
        let kind = SplitKind::ByTime {
            valid_days: 2,
            test_days: 3,
        };
        let s = split(&day, kind, &mut Seed(1).stream("split"));
        assert_eq!(s.test, (70..100).collect::<Vec<_>>());
        assert_eq!(s.valid, (50..70).collect::<Vec<_>>());
        assert_eq!(s.train, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn random_split_partitions_every_row_once() {
        let day = vec![0u16; 1000];
        let kind = SplitKind::Random {
            valid: 0.1,
            test: 0.2,
        };
        let s = split(&day, kind, &mut Seed(1).stream("split"));
        assert_eq!(
            (s.train.len(), s.valid.len(), s.test.len()),
            (700, 100, 200)
        );
        let mut all: Vec<usize> = [s.train, s.valid, s.test].concat();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }
}
