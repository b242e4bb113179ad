package commands

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"techledger/ledger"
)

// Limits of an import.
const (
	// ImportLineBytesMax bounds one NDJSON line (one command).
	ImportLineBytesMax = CommandBytesMax
	// ImportErrorsMax bounds the rejected lines a Summary lists; all are counted.
	ImportErrorsMax = 1000
	// ImportLanesDefault is how many commands an import applies at once by default. Each
	// lane waits for its command's fsync before the next, and contracts are dealt to lanes
	// by hash, unevenly; 256 lanes keep enough appends in flight to share fsyncs (group
	// commit) as the command benchmark's 64 callers do (BenchmarkImport_Paired64: 64 lanes
	// gave 0.65-0.82 of its rate on a loaded machine, 128 gave 0.89, 256 gave 0.94).
	ImportLanesDefault = 256
	// ImportLanesMax bounds ImportOptions.Lanes.
	ImportLanesMax = 1024
	// importWindowPerLane bounds the lines read ahead of the oldest line not yet applied,
	// per lane: the memory an import holds does not grow with the file.
	importWindowPerLane = 64
)

// utf8BOM is the byte-order mark some Windows tools write at the start of a UTF-8 file:
// it is not part of the first command.
var utf8BOM = []byte("\ufeff")

// LineError is a rejected line of an import.
type LineError struct {
	Line int   `json:"line"`
	Err  error `json:"-"`
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Summary is the result of an import.
type Summary struct {
	Applied      int             `json:"applied"`
	Duplicates   int             `json:"duplicates"`
	Rejected     int             `json:"rejected"`
	LastPosition ledger.Position `json:"last_position"` // of the last event appended or found (0: none)
	Errors       []LineError     `json:"-"`             // the first ImportErrorsMax rejections, in line order
}

// Applier applies commands given as JSON lines: a Handler in this process (see
// HandlerApplier), or a server over HTTP. Its methods are called from several goroutines
// at once.
type Applier interface {
	// Apply applies one command. A rejection is an error with a Code (see CodeOf): the
	// line is counted and reported, and the import goes on; any other error stops it.
	Apply(ctx context.Context, line []byte) (Outcome, error)
	// AchievementOf returns the achievement_id of a registered contract: "" if it has none
	// or is not registered.
	AchievementOf(ctx context.Context, contractID string) (string, error)
}

// HandlerApplier applies commands through a Handler on behalf of Who.
type HandlerApplier struct {
	Handler *Handler
	Who     Actor
}

// Apply handles one command.
func (a HandlerApplier) Apply(ctx context.Context, line []byte) (Outcome, error) {
	return a.Handler.HandleJSON(ctx, line, a.Who)
}

// AchievementOf reads the contract (from the handler's cache or its stream).
func (a HandlerApplier) AchievementOf(ctx context.Context, contractID string) (string, error) {
	c, err := a.Handler.load(ctx, contractID, ledger.ContractStream(contractID), false)
	return c.AchievementID, err
}

// ImportOptions tune an import.
type ImportOptions struct {
	// Lanes is how many commands are applied at once (0: ImportLanesDefault; 1: one after
	// the other).
	Lanes int
	// Progress, if not nil, is called after each line, in line order, with the summary so
	// far; it is called from a goroutine of the import's own, never concurrently.
	Progress func(line int, s *Summary)
	// FileOrder makes the appends of a HandlerApplier take the file's order, so that the
	// log holds the events at the positions a one-at-a-time import gives them. It costs
	// about half the import's speed on 2 cores (each append waits for the line before it:
	// docs/operations.md, Bulk import). Without it, lanes append as their lines are
	// decided: the decisions and the Summary are the same, only positions interleave
	// across contracts differently, as a server's concurrent commands do (so a rejection
	// that names the position of another line's events may name another number).
	FileOrder bool
}

// Import applies every command of an NDJSON stream through h, as ImportTo does with a
// HandlerApplier, the default lanes and FileOrder: the log and the Summary are exactly
// those of a one-at-a-time import.
func Import(ctx context.Context, r io.Reader, h *Handler, who Actor, progress func(line int, s *Summary)) (Summary, error) {
	return ImportTo(ctx, r, HandlerApplier{Handler: h, Who: who}, ImportOptions{Progress: progress, FileOrder: true})
}

// ImportTo applies every command of an NDJSON stream (one JSON command per line; blank
// lines are skipped) through a. A rejected line is reported as "line N: <field>: <rule>"
// and does not stop the import. A UTF-8 byte-order mark at the start of r is skipped.
// Re-importing the same lines appends nothing: their command_ids are already recorded.
//
// Commands are pipelined: up to opt.Lanes are applied at once, dealt to lanes by a
// Partition (all commands of a contract, and all contracts of an achievement, in one lane,
// in file order), so every line is decided as in a one-at-a-time import and the Summary
// is the same. With opt.FileOrder, the appends through a HandlerApplier also take the
// file's order (the positions are those of a one-at-a-time import; only the fsyncs are
// shared); a server orders concurrent commands itself. A command_id that comes back on another lane than before waits until every
// earlier line is applied, so a repeated line is the duplicate (or the conflict), never
// the first.
//
// A failure of the log, of a, or of reading r stops the import: no line is started after
// it, and the error (naming the line) is returned with the summary of every line applied,
// which may include lines after the failed one that were already under way. Importing
// the file again completes it.
func ImportTo(ctx context.Context, r io.Reader, a Applier, opt ImportOptions) (Summary, error) {
	lanes := opt.Lanes
	switch {
	case lanes == 0:
		lanes = ImportLanesDefault
	case lanes < 0 || lanes > ImportLanesMax:
		return Summary{}, fmt.Errorf("import: lanes: want 1..%d, got %d", ImportLanesMax, lanes)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p := &pipeline{a: a, progress: opt.Progress, results: map[int]lineResult{}}
	if opt.FileOrder {
		p.turns = newTurns()
	}
	p.room = sync.NewCond(&p.mu)
	p.window = lanes * importWindowPerLane
	// A lane starts with its first line: a short file does not pay for the lanes it leaves
	// idle (each is a goroutine and a queue of importWindowPerLane lines).
	queues := make([]chan lineJob, lanes)
	var workers sync.WaitGroup
	queue := func(lane int) chan lineJob {
		if queues[lane] == nil {
			q := make(chan lineJob, importWindowPerLane)
			queues[lane] = q
			workers.Go(func() { p.work(ctx, q) })
		}
		return queues[lane]
	}
	err := p.dispatch(ctx, r, lanes, queue)
	for _, q := range queues {
		if q != nil {
			close(q)
		}
	}
	workers.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed != nil {
		err = p.failed
	}
	// After a failure, lines past the failed one may have been applied: count them too.
	for _, line := range slices.Sorted(maps.Keys(p.results)) {
		p.fold(line, p.results[line])
	}
	return p.sum, err
}

// lineJob is one line to apply.
type lineJob struct {
	line int
	b    []byte
}

// lineResult is how a line ended.
type lineResult struct {
	out  Outcome
	err  error // a rejection (has a Code)
	skip bool  // blank: nothing to count
}

// pipeline is the state of one import shared by the dispatcher and the lanes.
type pipeline struct {
	a        Applier
	progress func(int, *Summary)
	window   int
	stopped  atomic.Int64 // the line that failed (0: none): start no line after it
	turns    *turns       // nil unless the appends take the file's order

	mu       sync.Mutex
	room     *sync.Cond         // signalled when lines are folded into the summary
	results  map[int]lineResult // lines done, not yet folded (out of order)
	next     int                // the next line to fold, in order
	sum      Summary
	failed   error // the failure with the lowest line
	failedAt int
}

// dispatch reads r and deals its lines to the lanes (queue gives a lane's queue, starting
// the lane on its first line); it returns a read error or ctx's.
func (p *pipeline) dispatch(ctx context.Context, r io.Reader, lanes int, queue func(lane int) chan lineJob) error {
	// A contract that cannot be looked up takes the lane of its registration number; the
	// store's failure, if it lasts, stops the import when the line is applied.
	part := NewPartition(lanes, func(contractID string) string {
		ach, _ := p.a.AchievementOf(ctx, contractID)
		return ach
	})
	idLane := map[uint64]int{} // command_id digest -> lane of its last line
	br := bufio.NewReaderSize(r, 64<<10)
	p.mu.Lock()
	p.next = 1
	p.mu.Unlock()
	for line := 1; ; line++ {
		b, tooLong, err := readLine(br, ImportLineBytesMax)
		if err == io.EOF && len(b) == 0 && !tooLong {
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("import: read line %d: %w", line, err)
		}
		if cerr := ctx.Err(); cerr != nil || p.stopped.Load() != 0 {
			return cerr
		}
		if line == 1 {
			b = bytes.TrimPrefix(b, utf8BOM)
		}
		if !p.admit(line) {
			return ctx.Err()
		}
		switch {
		case tooLong:
			p.done(line, lineResult{err: reject(CodeMalformed, "", "line exceeds ImportLineBytesMax (%d bytes)", ImportLineBytesMax)})
		case len(bytes.TrimSpace(b)) == 0:
			p.done(line, lineResult{skip: true})
		default:
			b = bytes.Clone(b)
			// A line that is not a JSON object, or names no contract, is decided alone (it
			// is rejected, or a duplicate of its command_id): any lane will do.
			lane, wait := 0, false
			if h, herr := HeadOf(b); herr == nil {
				if h.ContractID != "" {
					lane, wait = part.Lane(h)
				}
				if h.CommandID != "" {
					d := digest(h.CommandID)
					prev, seen := idLane[d]
					wait = wait || (seen && prev != lane)
					idLane[d] = lane
				}
			}
			if wait && !p.drain(line) {
				return ctx.Err()
			}
			select {
			case queue(lane) <- lineJob{line: line, b: b}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// admit waits until line is within the window of lines read ahead of the oldest line
// not yet folded; false if the import stopped meanwhile.
func (p *pipeline) admit(line int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for line-p.next >= p.window && p.failed == nil {
		p.room.Wait()
	}
	return p.failed == nil
}

// drain waits until every line before line is folded; false if the import stopped.
func (p *pipeline) drain(line int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.next < line && p.failed == nil {
		p.room.Wait()
	}
	return p.failed == nil
}

// work applies the lines of one lane, in order.
func (p *pipeline) work(ctx context.Context, queue <-chan lineJob) {
	for job := range queue {
		if f := p.stopped.Load(); f != 0 && int64(job.line) > f {
			p.turns.pass(job.line)
			continue
		}
		lineCtx := ctx
		if p.turns != nil {
			lineCtx = context.WithValue(ctx, turnKey{}, &turn{p.turns, job.line})
		}
		out, err := p.a.Apply(lineCtx, job.b)
		p.turns.pass(job.line)
		if err != nil && CodeOf(err) == "" {
			p.fail(job.line, fmt.Errorf("import: line %d: %w", job.line, err))
			continue
		}
		p.done(job.line, lineResult{out: out, err: err})
	}
}

// fail records the failure of a line and stops the import: lines before it are still
// applied, no line after it starts.
func (p *pipeline) fail(line int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed == nil || line < p.failedAt {
		p.failed, p.failedAt = err, line
		p.stopped.Store(int64(line))
	}
	p.room.Broadcast()
}

// done records how a line ended and folds every line now complete, in line order, into
// the summary.
func (p *pipeline) done(line int, res lineResult) {
	p.turns.pass(line)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.results[line] = res
	folded := false
	for {
		res, ok := p.results[p.next]
		if !ok {
			break
		}
		delete(p.results, p.next)
		p.fold(p.next, res)
		p.next++
		folded = true
	}
	if folded {
		p.room.Broadcast()
	}
}

// fold counts one line, in line order.
func (p *pipeline) fold(line int, res lineResult) {
	s := &p.sum
	switch {
	case res.skip:
	case res.err != nil:
		s.reject(line, res.err)
	case res.out.Status == StatusDuplicate:
		s.Duplicates++
	default:
		s.Applied++
	}
	if n := len(res.out.Positions); n > 0 {
		s.LastPosition = max(s.LastPosition, res.out.Positions[n-1])
	}
	if p.progress != nil {
		p.progress(line, s)
	}
}

// turns orders an import's appends by line, so that positions follow the file as in a
// one-at-a-time import: a line appends only once every line before it has appended (its
// positions decided, not yet durable: fsyncs are still shared) or ended without
// appending. Deciding, and waiting for durability, stay concurrent.
type turns struct {
	mu      sync.Mutex
	next    int                   // every line before next has passed its turn on
	passed  map[int]bool          // lines after next that have passed
	waiting map[int]chan struct{} // the line waiting for its turn, if any
}

func newTurns() *turns {
	return &turns{next: 1, passed: map[int]bool{}, waiting: map[int]chan struct{}{}}
}

// pass ends a line's turn (again is a no-op; nil turns: nothing to do).
func (t *turns) pass(line int) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if line < t.next || t.passed[line] {
		return
	}
	t.passed[line] = true
	for t.passed[t.next] {
		delete(t.passed, t.next)
		t.next++
	}
	if ch, ok := t.waiting[t.next]; ok {
		close(ch)
		delete(t.waiting, t.next)
	}
}

// turn is one line's place in an import's order, carried to Handler.append in the
// context of the line's command.
type turn struct {
	t    *turns
	line int
}

type turnKey struct{}

// turnOf returns the turn in ctx (nil outside an import).
func turnOf(ctx context.Context) *turn {
	t, _ := ctx.Value(turnKey{}).(*turn)
	return t
}

// wait returns when it is the line's turn (at once for a nil turn, or a line that has
// already passed, as a retried append has).
func (t *turn) wait(ctx context.Context) error {
	if t == nil {
		return nil
	}
	t.t.mu.Lock()
	if t.line <= t.t.next || t.t.passed[t.line] {
		t.t.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	t.t.waiting[t.line] = ch
	t.t.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pass ends the line's turn.
func (t *turn) pass() {
	if t != nil {
		t.t.pass(t.line)
	}
}

func digest(s string) uint64 {
	f := fnv.New64a()
	f.Write([]byte(s))
	return f.Sum64()
}

func (s *Summary) reject(line int, err error) {
	s.Rejected++
	if len(s.Errors) < ImportErrorsMax {
		s.Errors = append(s.Errors, LineError{Line: line, Err: err})
	}
}

// readLine reads one line without its newline. A line longer than max is consumed to its
// end and reported as tooLong, without keeping it.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > max+1 { // +1: the newline
			tooLong = true
			buf = buf[:0]
		} else if !tooLong {
			buf = append(buf, frag...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		buf = bytes.TrimSuffix(bytes.TrimSuffix(buf, []byte("\n")), []byte("\r"))
		if tooLong {
			return nil, true, err
		}
		return buf, false, err
	}
}
