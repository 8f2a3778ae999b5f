//! Which allocator a call site called, read from the machine code of the
//! object file: the side of a block without guessing from names.
//!
//! In an optimised build without debug info, Rust's allocator leaves no
//! frame of its own: `__rust_alloc` and `__rdl_alloc` tail-call `malloc`,
//! so memcheck's stack reads `malloc ← my_crate::f`, exactly like a call
//! of `libc::malloc` in `my_crate::f`. The return address tells them
//! apart: the instruction before it is the call, and its target is either
//! a Rust allocator entry (`__rust_alloc`, `__rust_realloc`, …) or the C
//! allocator (through the GOT or the PLT). x86-64 ELF only; anything else
//! is "cannot tell", and the caller falls back to the frames' names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use object::{Object, ObjectSection, ObjectSymbol, ObjectSymbolTable, RelocationTarget};

use super::attribution::Side;

/// Where memcheck maps a position-independent executable (its
/// `VG_PIE_LOAD_BASE`, fixed whatever the run); checked against the
/// frame's function name before it is trusted.
pub const MEMCHECK_PIE_BASE: u64 = 0x10_8000;

/// The side of the allocator that the call returning to `return_address`
/// (a run-time address in `object`, loaded at `base`) called, if the
/// machine code says. `names` are the function names the tool gave that
/// address (an inlined chain's, outermost last): one of them must name the
/// symbol that holds it, or the base is not believed.
pub fn side_called_from(
    object: &Path,
    base: u64,
    return_address: u64,
    names: &[&str],
) -> Option<Side> {
    let image = image(object)?;
    let at = return_address.checked_sub(base)?;
    if !image.holds_function(at, names) {
        return None;
    }
    let callee = image.call_target_before(at)?;
    Some(if is_rust_allocator_entry(&callee) {
        Side::Rust
    } else {
        Side::C
    })
}

/// Symbols (mangled or not) of the Rust global allocator's entry points.
fn is_rust_allocator_entry(symbol: &str) -> bool {
    [
        "__rust_alloc",
        "__rust_realloc",
        "__rdl_alloc",
        "__rdl_realloc",
        "__rg_alloc",
        "__rg_realloc",
    ]
    .iter()
    .any(|entry| symbol.contains(entry))
}

/// One object file, read once per run.
struct Image {
    data: Vec<u8>,
    /// (address, size, file offset) of every section with contents.
    sections: Vec<(u64, u64, u64)>,
    /// Function symbols by address: (address, size, name).
    symbols: Vec<(u64, u64, String)>,
    /// GOT slots the dynamic relocations fill: slot address → symbol name.
    slots: HashMap<u64, String>,
}

fn image(path: &Path) -> Option<Arc<Image>> {
    static CACHE: Mutex<Option<HashMap<PathBuf, Option<Arc<Image>>>>> = Mutex::new(None);
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache
        .get_or_insert_with(HashMap::new)
        .entry(path.to_path_buf())
        .or_insert_with(|| Image::read(path).map(Arc::new))
        .clone()
}

impl Image {
    fn read(path: &Path) -> Option<Image> {
        let data = std::fs::read(path).ok()?;
        let file = object::File::parse(&*data).ok()?;
        if file.architecture() != object::Architecture::X86_64
            || file.format() != object::BinaryFormat::Elf
        {
            return None;
        }
        let sections = file
            .sections()
            .filter_map(|s| {
                let (offset, size) = s.file_range()?;
                (size == s.size() && size > 0).then_some((s.address(), size, offset))
            })
            .collect();
        let mut symbols: Vec<(u64, u64, String)> = file
            .symbols()
            .chain(file.dynamic_symbols())
            .filter(|s| s.kind() == object::SymbolKind::Text && s.address() != 0)
            .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?.to_owned())))
            .collect();
        symbols.sort();
        let dynamic = file.dynamic_symbol_table();
        let mut slots = HashMap::new();
        for (slot, relocation) in file.dynamic_relocations().into_iter().flatten() {
            let name = match relocation.target() {
                RelocationTarget::Symbol(index) => dynamic
                    .as_ref()
                    .and_then(|table| table.symbol_by_index(index).ok())
                    .and_then(|symbol| symbol.name().ok().map(str::to_owned)),
                // R_X86_64_RELATIVE: the slot holds an address in this file.
                RelocationTarget::Absolute => {
                    Self::function_at(&symbols, relocation.addend() as u64).map(str::to_owned)
                }
                _ => None,
            };
            if let Some(name) = name {
                slots.insert(slot, name);
            }
        }
        Some(Image {
            data,
            sections,
            symbols,
            slots,
        })
    }

    /// The symbol that starts exactly at `address`.
    fn function_at(symbols: &[(u64, u64, String)], address: u64) -> Option<&str> {
        let i = symbols.partition_point(|s| s.0 < address);
        symbols
            .get(i)
            .filter(|s| s.0 == address)
            .map(|s| s.2.as_str())
    }

    /// Whether the function symbol that holds `address` is named by one of
    /// `names` (its last path segment, generics and closures left out, is
    /// part of the symbol, mangled or not).
    fn holds_function(&self, address: u64, names: &[&str]) -> bool {
        let i = self.symbols.partition_point(|s| s.0 <= address);
        let Some((start, size, symbol)) = i.checked_sub(1).map(|i| &self.symbols[i]) else {
            return false;
        };
        if address >= start + (*size).max(1) {
            return false;
        }
        names
            .iter()
            .any(|name| last_segment(name).is_some_and(|segment| symbol.contains(segment)))
    }

    fn bytes(&self, address: u64, len: u64) -> Option<&[u8]> {
        let &(start, _, offset) = self
            .sections
            .iter()
            .find(|(start, size, _)| address >= *start && address + len <= start + size)?;
        let at = usize::try_from(offset + (address - start)).ok()?;
        self.data.get(at..at + len as usize)
    }

    /// The symbol the call instruction ending at `return_address` called.
    fn call_target_before(&self, return_address: u64) -> Option<String> {
        // `call *disp32(%rip)`: ff 15, through a GOT slot.
        if let Some(code) = self.bytes(return_address.checked_sub(6)?, 6)
            && code[..2] == [0xff, 0x15]
        {
            let slot = return_address.wrapping_add_signed(displacement(&code[2..]));
            return self.slots.get(&slot).cloned();
        }
        // `call rel32`: e8, to a function here or to its PLT entry.
        let code = self.bytes(return_address.checked_sub(5)?, 5)?;
        if code[0] != 0xe8 {
            return None;
        }
        let target = return_address.wrapping_add_signed(displacement(&code[1..]));
        if let Some(name) = Self::function_at(&self.symbols, target) {
            return Some(name.to_owned());
        }
        self.plt_slot(target)
            .and_then(|slot| self.slots.get(&slot).cloned())
    }

    /// The GOT slot a PLT entry jumps through: `jmp *disp32(%rip)` (ff 25)
    /// within its first 16 bytes (after `endbr64` and a `bnd` prefix).
    fn plt_slot(&self, entry: u64) -> Option<u64> {
        let code = self.bytes(entry, 16)?;
        let at = code.windows(2).take(10).position(|w| w == [0xff, 0x25])?;
        let next = entry + at as u64 + 6;
        Some(next.wrapping_add_signed(displacement(code.get(at + 2..at + 6)?)))
    }
}

fn displacement(bytes: &[u8]) -> i64 {
    i64::from(i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// "a::b::<impl X>::f<T>::{closure#0}" → "f": the name the symbol surely
/// holds, in legacy and v0 mangling alike.
fn last_segment(name: &str) -> Option<&str> {
    let mut depth = 0usize;
    let mut cut = String::new();
    for c in name.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => cut.push(c),
            _ => {}
        }
    }
    let segment = cut
        .split("::")
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .last()?
        .trim_end_matches(|c: char| !c.is_alphanumeric() && c != '_')
        .to_owned();
    if segment.len() < 3 {
        return None;
    }
    // Found again in `name`, so the borrow is `name`'s.
    name.rfind(segment.as_str())
        .map(|at| &name[at..at + segment.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_segment_drops_generics_and_closures() {
        assert_eq!(
            last_segment("hashbrown::raw::RawTable<T,A>::reserve_rehash"),
            Some("reserve_rehash")
        );
        assert_eq!(
            last_segment("<alloc::raw_vec::RawVecInner>::try_allocate_in"),
            Some("try_allocate_in")
        );
        assert_eq!(
            last_segment("probe::tests::boxed::{closure#0}"),
            Some("boxed")
        );
        assert_eq!(last_segment("f"), None);
    }

    #[test]
    fn allocator_entries_mangled_or_not() {
        assert!(is_rust_allocator_entry(
            "_RNvCs1234_7___rustc12___rust_alloc"
        ));
        assert!(is_rust_allocator_entry("__rust_realloc"));
        assert!(!is_rust_allocator_entry("malloc"));
        assert!(!is_rust_allocator_entry("strdup"));
    }
}
