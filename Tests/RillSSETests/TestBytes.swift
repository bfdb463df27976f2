/// The UTF-8 bytes of `text`, for building test streams.
func utf8(_ text: String) -> [UInt8] {
    Array(text.utf8)
}

/// The UTF-8 byte order mark.
let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]
