//! The tabular dataset every model trains on: dense numeric columns, sparse
//! categorical ids (one-hot or hashed, each field with its own vocabulary),
//! a 0/1 label, a sample weight, and the day and group each row belongs to.

/// A categorical field: its name and how many distinct ids it can take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparseField {
    pub name: String,
    /// Ids of this field lie in `0..vocab`.
    pub vocab: u32,
}

/// A dataset in columnar, row-major blocks. Row `i` has dense values
/// `dense[i * dense_names.len()..][..dense_names.len()]` and one id per sparse
/// field, `sparse[i * sparse_fields.len()..][..sparse_fields.len()]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    pub dense_names: Vec<String>,
    pub dense: Vec<f32>,
    pub sparse_fields: Vec<SparseField>,
    pub sparse: Vec<u32>,
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

    /// Appends a row with weight 1, day 0 and a group of its own: the shape
    /// of synthetic fixtures in tests and benchmarks.
    pub fn push_row(&mut self, dense: &[f32], sparse: &[u32], label: bool) {
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
            ..Dataset::default()
        };
        for &i in rows {
            out.dense.extend_from_slice(self.dense_row(i));
            out.sparse.extend_from_slice(self.sparse_row(i));
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

    /// Checks that every column has a consistent length and every sparse id
    /// lies inside its field's vocabulary. Builders call it in tests.
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
            && ids_ok
    }
}
