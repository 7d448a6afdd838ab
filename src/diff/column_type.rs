//! Is a column type change a widening (every old value fits the new type) or not?
//!
//! The diff only *reports* type changes, but the report is what a reviewer acts on:
//! `varchar(50)` → `varchar(200)` is routine, `bigint` → `integer` can lose data. The input is
//! canonical `format_type` text, so string shapes are predictable.

/// What changing a column from one type to another would do to existing values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeChange {
    /// Every value of the old type is a value of the new one.
    Widening,
    /// Some values of the old type do not fit the new one.
    Narrowing,
    /// A conversion that is neither (different kinds of type, or meaning changes).
    Conversion,
}

/// `(base name, typmod arguments, array dimensions)` of canonical type text.
fn shape(text: &str) -> (&str, Vec<u32>, usize) {
    let mut base = text.trim();
    let mut dims = 0;
    while let Some(stripped) = base.strip_suffix("[]") {
        base = stripped;
        dims += 1;
    }
    // `timestamp(3) with time zone`: the typmod sits in the middle.
    let (name, args) = match (base.find('('), base.find(')')) {
        (Some(open), Some(close)) if open < close && !base.starts_with('"') => {
            let args = base[open + 1..close]
                .split(',')
                .filter_map(|a| a.trim().parse().ok())
                .collect();
            (base[..open].trim(), args)
        }
        _ => (base, Vec::new()),
    };
    let name = name
        .strip_suffix(" without time zone")
        .or_else(|| name.strip_suffix(" with time zone"))
        .unwrap_or(name);
    (name, args, dims)
}

fn int_rank(name: &str) -> Option<u8> {
    match name {
        "smallint" => Some(1),
        "integer" => Some(2),
        "bigint" => Some(3),
        _ => None,
    }
}

/// Classifies `from` → `to` (canonical type text).
pub fn classify(from: &str, to: &str) -> TypeChange {
    let (from_name, from_args, from_dims) = shape(from);
    let (to_name, to_args, to_dims) = shape(to);
    let from_tz = from.contains("with time zone");
    let to_tz = to.contains("with time zone");
    if from_dims != to_dims {
        return TypeChange::Conversion;
    }
    let widening = |yes: bool| {
        if yes {
            TypeChange::Widening
        } else {
            TypeChange::Narrowing
        }
    };
    if let (Some(a), Some(b)) = (int_rank(from_name), int_rank(to_name)) {
        return widening(b >= a);
    }
    match (from_name, to_name) {
        ("smallint" | "integer" | "bigint", "numeric") => {
            // numeric(p, 0) holds every integer with up to p digits.
            let digits = match from_name {
                "smallint" => 5,
                "integer" => 10,
                _ => 19,
            };
            match to_args.as_slice() {
                [] => TypeChange::Widening,
                [p] | [p, 0] => widening(*p >= digits),
                _ => TypeChange::Conversion,
            }
        }
        ("real", "double precision") => TypeChange::Widening,
        ("double precision", "real") => TypeChange::Narrowing,
        ("numeric", "numeric") => match (from_args.as_slice(), to_args.as_slice()) {
            (_, []) => TypeChange::Widening,
            ([], _) => TypeChange::Narrowing,
            (a, b) => {
                let (p1, s1) = (a[0], a.get(1).copied().unwrap_or(0));
                let (p2, s2) = (b[0], b.get(1).copied().unwrap_or(0));
                widening(s2 >= s1 && p2.saturating_sub(s2) >= p1.saturating_sub(s1))
            }
        },
        ("character varying", "character varying")
        | ("bit varying", "bit varying")
        | ("character", "character varying") => match (from_args.as_slice(), to_args.as_slice()) {
            (_, []) => TypeChange::Widening,
            ([], _) => TypeChange::Narrowing,
            (a, b) => widening(b[0] >= a[0]),
        },
        ("character varying" | "character", "text") => TypeChange::Widening,
        ("text", "character varying") => widening(to_args.is_empty()),
        ("character", "character") | ("bit", "bit") => {
            // Fixed length: a different length changes every value's padding.
            TypeChange::Conversion
        }
        ("timestamp" | "time" | "interval", "timestamp" | "time" | "interval")
            if from_name == to_name && from_tz == to_tz =>
        {
            // Precision: fewer fractional digits rounds values.
            let p1 = from_args.first().copied().unwrap_or(6);
            let p2 = to_args.first().copied().unwrap_or(6);
            widening(p2 >= p1)
        }
        _ => TypeChange::Conversion,
    }
}

#[cfg(test)]
mod tests {
    use super::{TypeChange::*, classify};

    #[test]
    fn widenings_and_narrowings() {
        let cases = [
            ("character varying(50)", "character varying(200)", Widening),
            ("character varying(200)", "character varying(50)", Narrowing),
            ("character varying(50)", "text", Widening),
            ("character varying(50)", "character varying", Widening),
            ("text", "character varying(10)", Narrowing),
            ("integer", "bigint", Widening),
            ("bigint", "integer", Narrowing),
            ("smallint", "integer", Widening),
            ("integer", "numeric", Widening),
            ("integer", "numeric(5,0)", Narrowing),
            ("numeric(10,2)", "numeric(12,2)", Widening),
            ("numeric(10,2)", "numeric(10,3)", Narrowing),
            ("numeric(10,2)", "numeric", Widening),
            ("real", "double precision", Widening),
            ("double precision", "real", Narrowing),
            ("integer[]", "bigint[]", Widening),
            ("integer[]", "bigint", Conversion),
            (
                "timestamp without time zone",
                "timestamp with time zone",
                Conversion,
            ),
            (
                "timestamp(3) with time zone",
                "timestamp with time zone",
                Widening,
            ),
            (
                "timestamp with time zone",
                "timestamp(0) with time zone",
                Narrowing,
            ),
            ("text", "integer", Conversion),
            ("character(2)", "character(3)", Conversion),
            ("uuid", "text", Conversion),
        ];
        for (from, to, want) in cases {
            assert_eq!(classify(from, to), want, "{from} -> {to}");
        }
    }
}
