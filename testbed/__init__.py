"""What the tests and the benchmarks both use: generated videos (``media``), real photos
of people from a package (``photos``), the bad-upload corpus (``bad_uploads``) and a real
local Ray cluster running the app (``cluster``). Not part of the service."""
