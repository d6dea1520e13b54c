//! The tabular dataset every model trains on: dense numeric columns, sparse
//! categorical ids (one-hot or hashed, each field with its own vocabulary),
//! bags of ids (a post's tokens: any number per row, in CSR form), a 0/1
//! label, a sample weight, and the day and group each row belongs to.

/// A categorical field: its name and how many distinct ids it can take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparseField {
    pub name: String,
    /// Ids of this field lie in `0..vocab`.
    pub vocab: u32,
}

/// A multi-valued categorical field, such as a post's tokens, in CSR form:
/// row `i` holds `ids[offsets[i]..offsets[i + 1]]`, each id in `0..vocab`,
/// repeats allowed (a token used twice counts twice).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BagField {
    pub name: String,
    pub vocab: u32,
    /// One more entry than rows; starts at 0.
    pub offsets: Vec<u32>,
    pub ids: Vec<u32>,
}

impl BagField {
    /// An empty field with no rows.
    pub fn new(name: &str, vocab: u32) -> BagField {
        BagField {
            name: name.to_owned(),
            vocab,
            offsets: vec![0],
            ids: Vec::new(),
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The ids of row `i`.
    pub fn row(&self, i: usize) -> &[u32] {
        &self.ids[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Appends a row.
    pub fn push(&mut self, ids: &[u32]) {
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        self.ids.extend_from_slice(ids);
        self.offsets.push(self.ids.len() as u32);
    }

    fn is_consistent(&self, rows: usize) -> bool {
        self.offsets.len() == rows + 1
            && self.offsets.first() == Some(&0)
            && self.offsets.is_sorted()
            && self.offsets.last().map(|&o| o as usize) == Some(self.ids.len())
            && self.ids.iter().all(|&id| id < self.vocab)
    }
}

/// A dataset in columnar, row-major blocks. Row `i` has dense values
/// `dense[i * dense_names.len()..][..dense_names.len()]` and one id per sparse
/// field, `sparse[i * sparse_fields.len()..][..sparse_fields.len()]`, and
/// its own ids in every bag field, `bags[f].row(i)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    pub dense_names: Vec<String>,
    pub dense: Vec<f32>,
    pub sparse_fields: Vec<SparseField>,
    pub sparse: Vec<u32>,
    /// Multi-valued fields; models that cannot take them (GBDT) ignore them.
    pub bags: Vec<BagField>,
    pub label: Vec<f32>,
    /// Training weight of each row (1 unless sampling or class weights say otherwise).
    pub weight: Vec<f32>,
    /// The simulated day the row comes from (for time splits and monitoring).
    pub day: Vec<u16>,
    /// The group the row belongs to (a feed session: a query for ranking metrics).
    pub group: Vec<u32>,
}

impl Dataset {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.label.len()
    }

    /// Whether the dataset has no rows.
    pub fn is_empty(&self) -> bool {
        self.label.is_empty()
    }

    /// Number of dense columns.
    pub fn dense_dim(&self) -> usize {
        self.dense_names.len()
    }

    /// Number of sparse fields.
    pub fn sparse_dim(&self) -> usize {
        self.sparse_fields.len()
    }

    /// Dense values of row `i`.
    pub fn dense_row(&self, i: usize) -> &[f32] {
        let d = self.dense_dim();
        &self.dense[i * d..(i + 1) * d]
    }

    /// Sparse ids of row `i`, one per field.
    pub fn sparse_row(&self, i: usize) -> &[u32] {
        let s = self.sparse_dim();
        &self.sparse[i * s..(i + 1) * s]
    }

    /// Number of bag fields.
    /// Mean number of ids per row over every bag field (0 without bags):
    /// what a row costs a model that looks at each id.
    pub fn mean_bag_ids(&self) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        let ids: usize = self.bags.iter().map(|b| b.ids.len()).sum();
        ids as f64 / self.len() as f64
    }

    pub fn bag_dim(&self) -> usize {
        self.bags.len()
    }

    /// Appends a row with weight 1, day 0 and a group of its own: the shape
    /// of synthetic fixtures in tests and benchmarks. Its bags are empty.
    pub fn push_row(&mut self, dense: &[f32], sparse: &[u32], label: bool) {
        self.push_row_with_bags(dense, sparse, &[], label);
    }

    /// [`Self::push_row`] with the ids of each bag field (missing ones empty).
    pub fn push_row_with_bags(
        &mut self,
        dense: &[f32],
        sparse: &[u32],
        bags: &[&[u32]],
        label: bool,
    ) {
        for (k, bag) in self.bags.iter_mut().enumerate() {
            bag.push(bags.get(k).copied().unwrap_or(&[]));
        }
        self.group.push(self.label.len() as u32);
        self.dense.extend_from_slice(dense);
        self.sparse.extend_from_slice(sparse);
        self.label.push(f32::from(u8::from(label)));
        self.weight.push(1.0);
        self.day.push(0);
    }

    /// A new dataset holding the given rows, in the given order (rows may repeat).
    #[must_use]
    pub fn select(&self, rows: &[usize]) -> Dataset {
        let d = self.dense_dim();
        let s = self.sparse_dim();
        let mut out = Dataset {
            dense_names: self.dense_names.clone(),
            sparse_fields: self.sparse_fields.clone(),
            dense: Vec::with_capacity(rows.len() * d),
            sparse: Vec::with_capacity(rows.len() * s),
            bags: self
                .bags
                .iter()
                .map(|b| BagField::new(&b.name, b.vocab))
                .collect(),
            ..Dataset::default()
        };
        for &i in rows {
            out.dense.extend_from_slice(self.dense_row(i));
            out.sparse.extend_from_slice(self.sparse_row(i));
            for (to, from) in out.bags.iter_mut().zip(&self.bags) {
                to.push(from.row(i));
            }
            out.label.push(self.label[i]);
            out.weight.push(self.weight[i]);
            out.day.push(self.day[i]);
            out.group.push(self.group[i]);
        }
        out
    }

    /// Fraction of positive labels, weights ignored.
    pub fn positive_rate(&self) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        self.label.iter().map(|&y| f64::from(y)).sum::<f64>() / self.len() as f64
    }

    /// Checks that every column has a consistent length and every sparse or
    /// bag id lies inside its field's vocabulary. Builders call it in tests.
    pub fn is_consistent(&self) -> bool {
        let n = self.len();
        let ids_ok = self.sparse.chunks(self.sparse_dim().max(1)).all(|row| {
            row.iter()
                .zip(&self.sparse_fields)
                .all(|(&id, f)| id < f.vocab)
        });
        self.dense.len() == n * self.dense_dim()
            && self.sparse.len() == n * self.sparse_dim()
            && self.weight.len() == n
            && self.day.len() == n
            && self.group.len() == n
            && self.bags.iter().all(|b| b.is_consistent(n))
            && ids_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bags_survive_push_and_select() {
        let mut data = Dataset {
            dense_names: vec!["x".into()],
            bags: vec![BagField::new("tokens", 10)],
            ..Dataset::default()
        };
        data.push_row_with_bags(&[1.0], &[], &[&[3, 3, 7]], true);
        data.push_row(&[2.0], &[], false);
        data.push_row_with_bags(&[3.0], &[], &[&[9]], false);
        assert!(data.is_consistent());
        assert_eq!(data.bags[0].row(0), [3, 3, 7]);
        assert!(data.bags[0].row(1).is_empty());
        let picked = data.select(&[2, 0, 2]);
        assert!(picked.is_consistent());
        assert_eq!(picked.bags[0].row(0), [9]);
        assert_eq!(picked.bags[0].row(1), [3, 3, 7]);
        assert_eq!(picked.bags[0].offsets, [0, 1, 4, 5]);
        let mut bad = data.clone();
        bad.bags[0].ids[0] = 10;
        assert!(!bad.is_consistent(), "ids must lie inside the vocabulary");
    }
}
