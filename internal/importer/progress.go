package importer

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
)

// countingReader counts the bytes read through it, for progress by bytes.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// progress shows how far an import is on stderr: a progress bar sized by
// file bytes when stderr is a terminal, else a line every few seconds. It is
// used from the importing goroutine only.
type progress struct {
	w     io.Writer
	name  string
	total int64 // file size in bytes; <= 0 when unknown
	read  *countingReader
	bar   *progressbar.ProgressBar // nil when w is not a terminal
	every time.Duration            // between lines when there is no bar
	last  time.Time
	now   func() time.Time
}

func newProgress(w io.Writer, name string, total int64, read *countingReader, every time.Duration, now func() time.Time) *progress {
	p := &progress{w: w, name: name, total: total, read: read, every: every, now: now, last: now()}
	if isTerminal(w) {
		max := total
		if max <= 0 {
			max = -1 // a spinner
		}
		p.bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("importing "+name),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// update shows the counts so far.
func (p *progress) update(st Stats) {
	if p.bar != nil {
		p.bar.Set64(p.read.n)
		return
	}
	if now := p.now(); now.Sub(p.last) >= p.every {
		p.last = now
		fmt.Fprintf(p.w, "import %s: %s, %s rows, %s imported, %s rejected\n",
			p.name, p.fraction(), group(st.Rows), group(st.Imported), group(st.Rejected))
	}
}

func (p *progress) fraction() string {
	if p.total <= 0 {
		return fmt.Sprintf("%s read", bytesText(p.read.n))
	}
	return fmt.Sprintf("%d%% (%s of %s)", p.read.n*100/p.total, bytesText(p.read.n), bytesText(p.total))
}

// println writes a line to stderr without garbling the bar.
func (p *progress) println(s string) {
	if p.bar != nil {
		p.bar.Clear()
	}
	fmt.Fprintln(p.w, s)
}

// finish removes the bar.
func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// group writes n with a comma between groups of three digits: 9,812.
func group(n int) string {
	s := fmt.Sprint(n)
	neg := ""
	if n < 0 {
		neg, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return neg + s
}
