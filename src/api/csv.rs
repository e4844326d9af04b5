//! CSV for spreadsheets (RFC 4180), with formula cells defused.
//!
//! A cell that begins with `=`, `+`, `-` or `@` (or a tab or carriage
//! return) would be run as a formula by Excel or LibreOffice, so it is
//! prefixed with `'`, as OWASP's CSV-injection advice says. Numbers are
//! written by the server, never from a caller's text, so no figure is hit.

/// A CSV document: a header row, then one row per record, CRLF-terminated.
pub fn write(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    line(&mut out, header.iter().copied());
    for row in rows {
        line(&mut out, row.iter().map(String::as_str));
    }
    out
}

fn line<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    let cells: Vec<String> = cells.map(cell).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// One cell, defused and quoted when it must be.
pub fn cell(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if defused.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+380441234567"), "'+380441234567");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("menu"), "menu");
        assert_eq!(cell("12"), "12");
    }

    #[test]
    fn rows_are_quoted_where_needed_and_end_in_crlf() {
        let csv = write(&["node", "key"], &[vec!["a,b".into(), "1".into()]]);
        assert_eq!(csv, "node,key\r\n\"a,b\",1\r\n");
    }
}
