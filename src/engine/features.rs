//! Feature engineering: from a raw table (numeric columns with missing values,
//! categorical columns with raw ids, bags of raw ids such as tokens) to the
//! [`Dataset`] models train on.
//!
//! Transforms are fitted on the training rows only, then applied to every
//! split, as in production; fitting them on all rows is the "statistics
//! leakage" a study can switch on to see its optimistic offline number.

pub mod content;
pub mod feed;

use crate::engine::data::{BagField, Dataset, SparseField};
use crate::engine::rng::{Fnv, splitmix64};

/// A table of raw columns, one entry per row in every column.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawTable {
    /// Numeric columns; `NaN` marks a missing value.
    pub numeric: Vec<RawNumeric>,
    pub categorical: Vec<RawCategorical>,
    /// Multi-valued columns of raw ids in `0..vocab` (a post's tokens).
    pub bags: Vec<BagField>,
    pub label: Vec<f32>,
    pub day: Vec<u16>,
    pub group: Vec<u32>,
}

/// A numeric column.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawNumeric {
    pub name: String,
    pub values: Vec<f32>,
    /// Counts and rates with a long tail benefit from a log transform first.
    pub heavy_tailed: bool,
}

/// A categorical column of raw ids in `0..cardinality`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawCategorical {
    pub name: String,
    pub ids: Vec<u32>,
    pub cardinality: u32,
}

impl RawTable {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.label.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.label.is_empty()
    }

    /// The values of the numeric column called `name`, if there is one.
    pub fn numeric_column(&self, name: &str) -> Option<&[f32]> {
        self.numeric
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.values.as_slice())
    }
}

/// How numeric columns are scaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scaling {
    /// Raw values.
    None,
    /// (x - mean) / std.
    Standardize,
    /// (x - min) / (max - min).
    MinMax,
    /// ln(1 + max(x, 0)) on heavy-tailed columns, then standardized.
    Log,
    /// Quantile buckets, each becoming a categorical id (then one-hot).
    Bucketize { bins: u8 },
}

/// How categorical ids become model inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// One id per distinct value: exact, but the vocabulary grows with the data.
    OneHot,
    /// `hash(value) % buckets`: a fixed size, with real collisions.
    Hashed { buckets: u32 },
}

/// The feature choices a design makes.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureSpec {
    pub scaling: Scaling,
    pub encoding: Encoding,
    /// Add a 0/1 column per numeric column that has missing values.
    pub missing_indicators: bool,
    /// Pairs of categorical columns (by index) crossed into one hashed field.
    pub crosses: Vec<(usize, usize)>,
    /// Buckets for each cross (crosses are always hashed).
    pub cross_buckets: u32,
    /// How bag ids (tokens) become model inputs; hashed by default, as
    /// production text models do, so unseen tokens still land in a bucket.
    pub bag_encoding: Encoding,
}

impl Default for FeatureSpec {
    fn default() -> Self {
        FeatureSpec {
            scaling: Scaling::Standardize,
            encoding: Encoding::OneHot,
            missing_indicators: true,
            crosses: Vec::new(),
            cross_buckets: 1 << 14,
            bag_encoding: Encoding::Hashed { buckets: 1 << 14 },
        }
    }
}

/// Transforms fitted on some rows of a table, ready to apply to any rows.
#[derive(Clone, Debug, PartialEq)]
pub struct FittedFeatures {
    spec: FeatureSpec,
    numeric: Vec<NumericFit>,
}

#[derive(Clone, Debug, PartialEq)]
struct NumericFit {
    /// Value used where the raw value is missing (the fitted mean).
    impute: f32,
    offset: f32,
    scale: f32,
    log: bool,
    has_missing: bool,
    /// Upper edges of the quantile buckets (for `Scaling::Bucketize`).
    edges: Vec<f32>,
}

/// Fits the transforms of `spec` on `rows` of `table`.
pub fn fit(table: &RawTable, rows: &[usize], spec: &FeatureSpec) -> FittedFeatures {
    let numeric = table
        .numeric
        .iter()
        .map(|col| fit_numeric(col, rows, spec.scaling))
        .collect();
    FittedFeatures {
        spec: spec.clone(),
        numeric,
    }
}

fn fit_numeric(col: &RawNumeric, rows: &[usize], scaling: Scaling) -> NumericFit {
    let log = matches!(scaling, Scaling::Log) && col.heavy_tailed;
    let value = |x: f32| if log { ln1p_pos(x) } else { x };
    let mut present: Vec<f32> = rows
        .iter()
        .map(|&i| col.values[i])
        .filter(|x| !x.is_nan())
        .map(value)
        .collect();
    let has_missing = present.len() < rows.len();
    let n = present.len().max(1) as f64;
    let mean = present.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = present
        .iter()
        .map(|&x| (f64::from(x) - mean) * (f64::from(x) - mean))
        .sum::<f64>()
        / n;
    let (min, max) = present
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    let (offset, scale) = match scaling {
        Scaling::None | Scaling::Bucketize { .. } => (0.0, 1.0),
        Scaling::Standardize | Scaling::Log => (mean as f32, nonzero(var.sqrt() as f32)),
        Scaling::MinMax if present.is_empty() => (0.0, 1.0),
        Scaling::MinMax => (min, nonzero(max - min)),
    };
    let edges = if let Scaling::Bucketize { bins } = scaling {
        present.sort_by(f32::total_cmp);
        let bins = usize::from(bins.max(2));
        let mut edges: Vec<f32> = (1..bins)
            .filter_map(|b| present.get(b * present.len() / bins).copied())
            .collect();
        edges.dedup();
        edges
    } else {
        Vec::new()
    };
    NumericFit {
        impute: mean as f32,
        offset,
        scale,
        log,
        has_missing,
        edges,
    }
}

fn nonzero(x: f32) -> f32 {
    if x > 1e-12 { x } else { 1.0 }
}

/// ln(1 + max(x, 0)), with libm for cross-platform bits.
fn ln1p_pos(x: f32) -> f32 {
    libm::log1p(f64::from(x.max(0.0))) as f32
}

impl FittedFeatures {
    /// The dataset of `rows` of `table`, in the given order.
    pub fn transform(&self, table: &RawTable, rows: &[usize]) -> Dataset {
        let spec = &self.spec;
        let bucketize = matches!(spec.scaling, Scaling::Bucketize { .. });
        let mut data = Dataset::default();
        // Column layout: dense numerics (unless bucketized), missing indicators,
        // then sparse fields: bucketized numerics, categoricals, crosses.
        if !bucketize {
            data.dense_names
                .extend(table.numeric.iter().map(|c| c.name.clone()));
        }
        if spec.missing_indicators {
            for (col, fit) in table.numeric.iter().zip(&self.numeric) {
                if fit.has_missing {
                    data.dense_names.push(format!("{}_missing", col.name));
                }
            }
        }
        if bucketize {
            for (col, fit) in table.numeric.iter().zip(&self.numeric) {
                data.sparse_fields.push(SparseField {
                    name: format!("{}_bucket", col.name),
                    // One id per bucket, plus one for missing values.
                    vocab: fit.edges.len() as u32 + 2,
                });
            }
        }
        for col in &table.categorical {
            data.sparse_fields.push(SparseField {
                name: col.name.clone(),
                vocab: match spec.encoding {
                    Encoding::OneHot => col.cardinality.max(1),
                    Encoding::Hashed { buckets } => buckets.max(1),
                },
            });
        }
        for &(a, b) in &spec.crosses {
            if let (Some(ca), Some(cb)) = (table.categorical.get(a), table.categorical.get(b)) {
                data.sparse_fields.push(SparseField {
                    name: format!("{}_x_{}", ca.name, cb.name),
                    vocab: spec.cross_buckets.max(1),
                });
            }
        }
        data.bags = transform_bags(spec.bag_encoding, table, rows);
        for &i in rows {
            if !bucketize {
                for (col, fit) in table.numeric.iter().zip(&self.numeric) {
                    let raw = col.values[i];
                    let x = if raw.is_nan() {
                        fit.impute
                    } else if fit.log {
                        ln1p_pos(raw)
                    } else {
                        raw
                    };
                    data.dense.push((x - fit.offset) / fit.scale);
                }
            }
            if spec.missing_indicators {
                for (col, fit) in table.numeric.iter().zip(&self.numeric) {
                    if fit.has_missing {
                        data.dense.push(f32::from(u8::from(col.values[i].is_nan())));
                    }
                }
            }
            if bucketize {
                for (col, fit) in table.numeric.iter().zip(&self.numeric) {
                    let raw = col.values[i];
                    let id = if raw.is_nan() {
                        fit.edges.len() + 1
                    } else {
                        fit.edges.partition_point(|&e| e <= raw)
                    };
                    data.sparse.push(id as u32);
                }
            }
            for (k, col) in table.categorical.iter().enumerate() {
                let raw = col.ids[i];
                data.sparse.push(match spec.encoding {
                    Encoding::OneHot => raw.min(col.cardinality.saturating_sub(1)),
                    Encoding::Hashed { buckets } => hash_id(k as u64, u64::from(raw), buckets),
                });
            }
            for (k, &(a, b)) in spec.crosses.iter().enumerate() {
                if let (Some(ca), Some(cb)) = (table.categorical.get(a), table.categorical.get(b)) {
                    let pair = (u64::from(ca.ids[i]) << 32) | u64::from(cb.ids[i]);
                    data.sparse
                        .push(hash_id(1000 + k as u64, pair, spec.cross_buckets));
                }
            }
            data.label.push(table.label[i]);
            data.weight.push(1.0);
            data.day.push(table.day[i]);
            data.group.push(table.group[i]);
        }
        data
    }
}

/// The bag fields of `rows`, ids encoded by `encoding`.
fn transform_bags(encoding: Encoding, table: &RawTable, rows: &[usize]) -> Vec<BagField> {
    let mut ids = Vec::new();
    table
        .bags
        .iter()
        .enumerate()
        .map(|(k, bag)| {
            // Each raw id's encoded id, computed once: hashing every token
            // occurrence was most of the transform's time.
            let map: Vec<u32> = (0..bag.vocab)
                .map(|id| encode(encoding, 2000 + k as u64, id, bag.vocab))
                .collect();
            let mut out = BagField::new(&bag.name, encoded_vocab(encoding, bag.vocab));
            out.offsets.reserve(rows.len());
            for &i in rows {
                ids.clear();
                ids.extend(
                    bag.row(i)
                        .iter()
                        .map(|&t| map[t.min(bag.vocab.saturating_sub(1)) as usize]),
                );
                out.push(&ids);
            }
            out
        })
        .collect()
}

/// Ids a field encoded by `encoding` can take, for a raw cardinality.
fn encoded_vocab(encoding: Encoding, cardinality: u32) -> u32 {
    match encoding {
        Encoding::OneHot => cardinality.max(1),
        Encoding::Hashed { buckets } => buckets.max(1),
    }
}

/// The encoded id of raw id `raw` of field `field`.
fn encode(encoding: Encoding, field: u64, raw: u32, cardinality: u32) -> u32 {
    match encoding {
        Encoding::OneHot => raw.min(cardinality.saturating_sub(1)),
        Encoding::Hashed { buckets } => hash_id(field, u64::from(raw), buckets),
    }
}

/// The hashing trick: a stable hash of (field, value) modulo `buckets`.
fn hash_id(field: u64, value: u64, buckets: u32) -> u32 {
    let mut h = Fnv::default();
    h.write_u64(field);
    h.write_u64(value);
    let mut state = h.finish();
    (splitmix64(&mut state) % u64::from(buckets.max(1))) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RawTable {
        RawTable {
            numeric: vec![RawNumeric {
                name: "count".into(),
                values: vec![1.0, 3.0, f32::NAN, 100.0, 5.0, 7.0],
                heavy_tailed: true,
            }],
            categorical: vec![RawCategorical {
                name: "colour".into(),
                ids: vec![0, 1, 2, 3, 4, 5],
                cardinality: 6,
            }],
            label: vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0],
            day: vec![0; 6],
            group: vec![0; 6],
            ..RawTable::default()
        }
    }

    #[test]
    fn standardize_fits_on_train_rows_only_and_imputes_the_mean() {
        let t = table();
        let train = [0, 1, 2];
        let fitted = fit(&t, &train, &FeatureSpec::default());
        let data = fitted.transform(&t, &[0, 1, 2, 3]);
        assert_eq!(data.dense_names, ["count", "count_missing"]);
        // Train values 1 and 3: mean 2, std 1.
        assert_eq!(data.dense_row(0), [-1.0, 0.0]);
        assert_eq!(data.dense_row(1), [1.0, 0.0]);
        assert_eq!(data.dense_row(2), [0.0, 1.0]);
        assert_eq!(data.dense_row(3), [98.0, 0.0]);
        assert!(data.is_consistent());
    }

    #[test]
    fn min_max_and_log_scale_as_documented() {
        let t = table();
        let all: Vec<usize> = (0..6).collect();
        let spec = FeatureSpec {
            scaling: Scaling::MinMax,
            missing_indicators: false,
            ..FeatureSpec::default()
        };
        let data = fit(&t, &all, &spec).transform(&t, &[0, 3]);
        assert_eq!(data.dense, [0.0, 1.0]);
        let spec = FeatureSpec {
            scaling: Scaling::Log,
            ..FeatureSpec::default()
        };
        let data = fit(&t, &all, &spec).transform(&t, &all);
        let logged: Vec<f32> = data.dense.chunks(2).map(|r| r[0]).collect();
        // Monotone, and the outlier 100 is pulled in: under 3 std from the mean.
        assert!(logged[3] > logged[5] && logged[3] < 3.0, "{logged:?}");
    }

    #[test]
    fn bucketize_turns_numbers_into_ids_with_a_missing_bucket() {
        let t = table();
        let all: Vec<usize> = (0..6).collect();
        let spec = FeatureSpec {
            scaling: Scaling::Bucketize { bins: 3 },
            ..FeatureSpec::default()
        };
        let data = fit(&t, &all, &spec).transform(&t, &all);
        assert_eq!(data.dense_names, ["count_missing"]);
        assert_eq!(data.sparse_fields[0].name, "count_bucket");
        let buckets: Vec<u32> = (0..6).map(|i| data.sparse_row(i)[0]).collect();
        let missing = data.sparse_fields[0].vocab - 1;
        assert_eq!(buckets[2], missing);
        assert!(buckets[0] <= buckets[1] && buckets[1] <= buckets[4] && buckets[4] <= buckets[3]);
        assert!(data.is_consistent());
    }

    #[test]
    fn hashing_collides_when_buckets_are_few() {
        let t = table();
        let all: Vec<usize> = (0..6).collect();
        let spec = FeatureSpec {
            encoding: Encoding::Hashed { buckets: 2 },
            ..FeatureSpec::default()
        };
        let data = fit(&t, &all, &spec).transform(&t, &all);
        let ids: Vec<u32> = (0..6).map(|i| data.sparse_row(i)[0]).collect();
        assert!(ids.iter().all(|&id| id < 2));
        let distinct: std::collections::BTreeSet<u32> = ids.iter().copied().collect();
        assert!(
            distinct.len() < 6,
            "six values into two buckets must collide"
        );
        let one_hot = fit(&t, &all, &FeatureSpec::default()).transform(&t, &all);
        let ids: Vec<u32> = (0..6).map(|i| one_hot.sparse_row(i)[0]).collect();
        assert_eq!(ids, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn bags_are_hashed_with_real_collisions_or_kept_one_hot() {
        let mut t = table();
        let mut tokens = BagField::new("tokens", 1_000);
        for i in 0..6u32 {
            tokens.push(&(0..=i).map(|k| k * 100 + i).collect::<Vec<_>>());
        }
        t.bags.push(tokens);
        let all: Vec<usize> = (0..6).collect();
        let one_hot = FeatureSpec {
            bag_encoding: Encoding::OneHot,
            ..FeatureSpec::default()
        };
        let data = fit(&t, &all, &one_hot).transform(&t, &[5, 1]);
        assert!(data.is_consistent());
        assert_eq!(data.bags[0].vocab, 1_000);
        assert_eq!(data.bags[0].row(1), [1, 101]);
        let hashed = FeatureSpec {
            bag_encoding: Encoding::Hashed { buckets: 8 },
            ..FeatureSpec::default()
        };
        let data = fit(&t, &all, &hashed).transform(&t, &all);
        assert!(data.is_consistent());
        assert_eq!(data.bags[0].row(5).len(), 6, "a bag keeps its length");
        let distinct: std::collections::BTreeSet<u32> = data.bags[0].ids.iter().copied().collect();
        assert!(distinct.len() <= 8 && data.bags[0].ids.len() == 21);
    }

    #[test]
    fn crosses_add_a_hashed_field() {
        let mut t = table();
        t.categorical.push(RawCategorical {
            name: "size".into(),
            ids: vec![0, 0, 1, 1, 0, 1],
            cardinality: 2,
        });
        let spec = FeatureSpec {
            crosses: vec![(0, 1)],
            cross_buckets: 64,
            ..FeatureSpec::default()
        };
        let all: Vec<usize> = (0..6).collect();
        let data = fit(&t, &all, &spec).transform(&t, &all);
        assert_eq!(data.sparse_fields[2].name, "colour_x_size");
        assert!(data.is_consistent());
    }
}
