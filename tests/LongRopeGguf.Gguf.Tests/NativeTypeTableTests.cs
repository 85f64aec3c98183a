using System.Runtime.InteropServices;
using LongRopeGguf.Gguf.Tests.Support;

namespace LongRopeGguf.Gguf.Tests;

/// <summary>
/// Our table of ggml tensor types against the one compiled into the libggml-base.so that LLamaSharp.Backend.Cpu ships
/// (the library that will read our files): same ids, names, block sizes and bytes per block, and every id we do not
/// know is a removed type.
/// </summary>
[Collection(NativeCollection.Name)]
public unsafe class NativeTypeTableTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>One entry of the native table.</summary>
    private sealed record NativeType(int Id, string Name, long BlockSize, ulong TypeSize);

    [Fact]
    public void Our_type_table_matches_the_native_ggml_library()
    {
        var native = ReadNativeTable(out string library);

        // Every id below the native count: a type we know, with the same layout, or a removed one (block size 0).
        foreach (var t in native)
        {
            if (GgmlTypeTraits.TryGet((GgmlType)t.Id, out var ours))
            {
                Assert.True(string.Equals(t.Name, ours.Type.ToString(), StringComparison.OrdinalIgnoreCase), $"id {t.Id}: native '{t.Name}', ours {ours.Type}");
                Assert.True(t.BlockSize == ours.BlockSize && t.TypeSize == (ulong)ours.BytesPerBlock,
                    $"{ours.Type}: native {t.BlockSize} elements in {t.TypeSize} bytes, ours {ours.BlockSize} in {ours.BytesPerBlock}");
            }
            else
            {
                Assert.True(t.BlockSize == 0, $"{library} knows type {t.Id} '{t.Name}' ({t.BlockSize} elements in {t.TypeSize} bytes); our table does not");
            }
        }
        // Every type we know exists there, and the removed ids are exactly those the enum documents.
        Assert.All(GgmlTypeTraits.All, ours => Assert.True((int)ours.Type < native.Count, $"{ours.Type} is not in {library}"));
        Assert.Equal(new[] { 4, 5, 31, 32, 33, 36, 37, 38 }, native.Where(t => t.BlockSize == 0).Select(t => t.Id));
        Assert.Equal(native.Count - 8, GgmlTypeTraits.All.Count);
    }

    /// <summary>
    /// Reads the native type table entry by entry. ggml_type_name, ggml_blck_size and ggml_type_size do not check their
    /// argument in release builds, and GGML_TYPE_COUNT is not exported, so the end of the table is found with care: a
    /// name pointer is only followed when it points into the library's own readable memory, and an entry counts only
    /// while it looks like one (a short type name with a plausible block layout, or ggml's mark of a removed type:
    /// block size 0 and a name saying DEPRECATED or REMOVED). Where the library keeps its symbol table (this one does),
    /// the count is also checked exactly: the size of the static array type_traits over the distance between two entries.
    /// </summary>
    private List<NativeType> ReadNativeTable(out string library)
    {
        NativeLlama.EnsureLoaded();
        library = NativeLlama.MappedLibrary("libggml-base.so")
            ?? throw new InvalidOperationException("LLamaSharp loaded no libggml-base.so");
        Assert.StartsWith(AppContext.BaseDirectory, library); // the copy shipped with LLamaSharp.Backend.Cpu, in our bin
        nint handle = NativeLibrary.Load(library);
        var typeName = (delegate* unmanaged<int, nint>)NativeLibrary.GetExport(handle, "ggml_type_name");
        var blockSize = (delegate* unmanaged<int, long>)NativeLibrary.GetExport(handle, "ggml_blck_size");
        var typeSize = (delegate* unmanaged<int, nuint>)NativeLibrary.GetExport(handle, "ggml_type_size");
        var traits = (delegate* unmanaged<int, nint>)NativeLibrary.GetExport(handle, "ggml_get_type_traits");
        var readable = NativeLlama.ReadableRanges(library);

        var table = new List<NativeType>();
        for (int id = 0; id < 1024; id++)
        {
            string? name = ReadName(typeName(id), readable);
            if (name is null) break;
            long blocks = blockSize(id);
            ulong size = typeSize(id);
            bool live = System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-zA-Z0-9_]{2,16}$")
                && blocks is 1 or 32 or 64 or 128 or 256 && size is >= 1 and <= 1024;
            bool removed = blocks == 0 && size == 0 && (name.Contains("DEPRECATED") || name.Contains("REMOVED"));
            if (!live && !removed) break;
            table.Add(new NativeType(id, name, blocks, size));
        }
        Assert.NotEmpty(table);
        Assert.True(table[^1].BlockSize != 0, "the table should end with a live type");

        // Types 0 and 1 always exist, so ggml_get_type_traits (which asserts its argument) is safe for them.
        long stride = traits(1) - traits(0);
        if (ElfSymbol(library, "type_traits") is { } symbol)
        {
            ulong loadBase = NativeLlama.LoadBase(library);
            Assert.Equal(loadBase + symbol.Value, (ulong)traits(0)); // it is the array the functions read
            Assert.Equal(0, (long)symbol.Size % stride);
            Assert.Equal((long)symbol.Size / stride, table.Count);    // GGML_TYPE_COUNT, exactly
            output.WriteLine($"{library}: {table.Count} types by probing; type_traits is {symbol.Size} bytes / {stride} per entry = {(long)symbol.Size / stride}");
        }
        else
        {
            output.WriteLine($"{library}: {table.Count} types by probing (no symbol table to confirm the count)");
        }
        return table;
    }

    /// <summary>Value (address relative to the load base) and size of a symbol in an ELF64 file's .symtab, or null
    /// when the file has no symbol table (stripped) or no such symbol.</summary>
    private static (ulong Value, ulong Size)? ElfSymbol(string path, string name)
    {
        byte[] elf = File.ReadAllBytes(path);
        if (!elf.AsSpan(0, 4).SequenceEqual(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }) || elf[4] != 2) return null; // not ELF64
        ulong U64(int at) => System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(at));
        uint U32(int at) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan(at));
        ushort U16(int at) => System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(at));
        int sectionHeaders = (int)U64(0x28), headerSize = U16(0x3A), count = U16(0x3C);
        for (int i = 0; i < count; i++)
        {
            int sh = sectionHeaders + i * headerSize;
            if (U32(sh + 4) != 2) continue; // SHT_SYMTAB
            int symbols = (int)U64(sh + 0x18), symbolsSize = (int)U64(sh + 0x20), entrySize = (int)U64(sh + 0x38);
            int strings = (int)U64(sectionHeaders + (int)U32(sh + 0x28) * headerSize + 0x18);
            byte[] wanted = System.Text.Encoding.ASCII.GetBytes(name + "\0");
            for (int at = symbols; at < symbols + symbolsSize; at += entrySize)
            {
                int nameAt = strings + (int)U32(at);
                if (elf.AsSpan(nameAt, wanted.Length).SequenceEqual(wanted)) return (U64(at + 8), U64(at + 16));
            }
        }
        return null;
    }

    /// <summary>The C string at <paramref name="p"/> if it lies inside the library's readable memory and is 1 to 100
    /// printable ASCII characters; otherwise null (a pointer read from past the end of the table).</summary>
    private static string? ReadName(nint p, List<(ulong Start, ulong End)> readable)
    {
        var range = readable.FirstOrDefault(r => (ulong)p >= r.Start && (ulong)p < r.End);
        if (range == default) return null;
        var bytes = new List<byte>();
        for (ulong a = (ulong)p; a < range.End && bytes.Count <= 100; a++)
        {
            byte b = *(byte*)a;
            if (b == 0) return bytes.Count > 0 ? System.Text.Encoding.ASCII.GetString(bytes.ToArray()) : null;
            if (b is < 0x20 or > 0x7E) return null;
            bytes.Add(b);
        }
        return null;
    }
}
