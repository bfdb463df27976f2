extension StringProtocol {
    /// Whether the text is in Unicode Normalization Form C (NFC), the form every channel name
    /// and subscribed pattern must have.
    ///
    /// Swift compares strings by canonical equivalence (`"caf\u{E9}" == "cafe\u{301}"`), Redis
    /// and every peer hub byte by byte: without this rule one name would be one channel in
    /// memory and two on Redis. Two NFC strings are canonically equivalent only when their
    /// bytes are equal, so for names in NFC both comparisons agree. ASCII is NFC, checked
    /// without normalizing; other text is compared with its NFC form (the standard library's
    /// `_nfcCodeUnits`, what Foundation's `precomposedStringWithCanonicalMapping` uses).
    package var isInNormalizationFormC: Bool {
        if utf8.allSatisfy({ $0 < 0x80 }) { return true }
        return utf8.elementsEqual(String(self)._nfcCodeUnits)
    }
}
