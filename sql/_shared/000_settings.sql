-- Planner and memory settings of the run. The engine runs every file in one transaction, so a
-- `set local` here lasts until the end of the run (and no longer): the transforms set none.

-- The helpers inline into large expressions: JIT compilation costs more than it saves.
set local jit = off;
-- Sorts, hashes and materialized rows stay in memory, foreign key validation (an anti-join)
-- hashes (one run at a time; the largest, the movements of the processes, needs about 200 MB).
set local work_mem = '256MB';
-- Index builds of the large tables sort in memory.
set local maintenance_work_mem = '512MB';
-- A Memoize node over the expansion of a document's arrays caches each array once and never
-- hits (each document is read once), at a cost of hundreds of MB copied.
set local enable_memoize = off;
