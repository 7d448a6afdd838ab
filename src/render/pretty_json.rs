//! Indented JSON, byte for byte what `serde_json::to_writer_pretty` writes, faster.
//!
//! A plan's JSON carries both models — at 10,000 tables ~190 MB, most of it indentation.
//! serde_json's pretty printer writes each two-space indent step as its own write; this one
//! writes the line break and the whole indent at once, which takes a quarter off rendering a
//! model (measured in docs/benchmarks.md).
//!
//! It writes through a buffer of its own: callers pass `&mut dyn Write`, through which each
//! of the serializer's writes (a token at a time, tens of millions at 10,000 tables) was a
//! call that could not be inlined. Buffered here, a 10,000-table plan's JSON renders in
//! ~0.40 s instead of ~0.56 s.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

/// Writes `value` as indented JSON (two spaces, `"key": value`), like
/// `serde_json::to_writer_pretty`.
pub fn to_writer<W: Write, T: Serialize + ?Sized>(out: W, value: &T) -> io::Result<()> {
    let mut buffered = io::BufWriter::with_capacity(BUFFER, out);
    let mut serializer = serde_json::Serializer::with_formatter(&mut buffered, Indented::default());
    value.serialize(&mut serializer).map_err(io::Error::other)?;
    buffered
        .into_inner()
        .map_err(io::IntoInnerError::into_error)?;
    Ok(())
}

/// Large enough that the writes behind it are few.
const BUFFER: usize = 64 * 1024;

#[derive(Default)]
struct Indented {
    level: usize,
    /// Whether the innermost open array or object has an element yet.
    has_value: bool,
}

/// Enough for 63 levels in one write; deeper levels are written a step at a time.
const NEWLINE_AND_SPACES: &[u8; 127] = &{
    let mut bytes = [b' '; 127];
    bytes[0] = b'\n';
    bytes
};

impl Indented {
    fn new_line<W: ?Sized + Write>(&self, out: &mut W) -> io::Result<()> {
        let width = self.level * 2;
        match NEWLINE_AND_SPACES.get(..=width) {
            Some(bytes) => out.write_all(bytes),
            None => {
                out.write_all(b"\n")?;
                (0..self.level).try_for_each(|_| out.write_all(b"  "))
            }
        }
    }
}

impl Formatter for Indented {
    fn begin_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        out.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.new_line(out)?;
        }
        out.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        if !first {
            out.write_all(b",")?;
        }
        self.new_line(out)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        out.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.new_line(out)?;
        }
        out.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        if !first {
            out.write_all(b",")?;
        }
        self.new_line(out)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        out.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    fn ours(value: &serde_json::Value) -> String {
        let mut out = Vec::new();
        super::to_writer(&mut out, value).expect("writes to a Vec");
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    #[test]
    fn writes_what_serde_json_pretty_writes() {
        let mut deep = json!("bottom");
        for i in 0..80 {
            deep = if i % 2 == 0 {
                json!([deep, i])
            } else {
                json!({ "k": deep, "e": {} })
            };
        }
        let cases = [
            json!(null),
            json!([]),
            json!({}),
            json!([[], {}, [[]], [{}], { "a": [] }]),
            json!({ "a": 1, "b": [1, 2, { "c": "d\"\n" }], "e": { "f": null, "g": {} } }),
            json!([1, [2, [3, [4]]], "x"]),
            deep,
        ];
        for case in &cases {
            let expected = serde_json::to_string_pretty(case).expect("serialises");
            assert_eq!(ours(case), expected, "{case}");
        }
    }
}
