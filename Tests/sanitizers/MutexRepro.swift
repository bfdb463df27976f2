import Foundation
// Not part of any target: shows that ThreadSanitizer cannot see Synchronization.Mutex on Linux
// (see tsan.supp). swiftc -sanitize=thread MutexRepro.swift -o /tmp/MutexRepro && /tmp/MutexRepro
// reports a "Swift access race" although every access is under the lock.
import Synchronization

final class Box: @unchecked Sendable { let m = Mutex<[Int]>([]) }
let box = Box()
let t = Thread { for i in 0..<20000 { box.m.withLock { $0.append(i) } } }
t.start()
for i in 0..<20000 { box.m.withLock { $0.append(i) } }
while box.m.withLock({ $0.count }) < 40000 { usleep(1000) }
print("done", box.m.withLock { $0.count })
