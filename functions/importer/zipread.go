package importer

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"
)

// rangeReader is what the zip reader needs of the object store: ranged GETs.
type rangeReader interface {
	ReadRange(ctx context.Context, key string, p []byte, off int64) error
}

// objectReaderAt reads a staged zip straight from S3 with ranged GETs (archive/zip needs
// random access: the central directory is at the end), through a small cache of blocks,
// so the zip is never spooled to disk or held in memory: at most cacheBlocks × blockSize
// bytes are.
type objectReaderAt struct {
	ctx     context.Context
	store   rangeReader
	key     string
	size    int64
	mu      sync.Mutex
	blocks  map[int64][]byte
	order   []int64 // least recently used first
	fetches int
}

const (
	blockSize   = 1 << 20
	cacheBlocks = 8
)

func newObjectReaderAt(ctx context.Context, store rangeReader, key string, size int64) *objectReaderAt {
	return &objectReaderAt{ctx: ctx, store: store, key: key, size: size, blocks: map[int64][]byte{}}
}

// ReadAt implements io.ReaderAt.
func (r *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("importer: negative offset")
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= r.size {
			return n, io.EOF
		}
		block, err := r.block(at / blockSize)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], block[at%blockSize:])
	}
	return n, nil
}

func (r *objectReaderAt) block(i int64) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.blocks[i]; ok {
		r.touch(i)
		return b, nil
	}
	start := i * blockSize
	b := make([]byte, min(blockSize, r.size-start))
	if err := r.store.ReadRange(r.ctx, r.key, b, start); err != nil {
		return nil, fmt.Errorf("importer: read the zip at %d: %w", start, err)
	}
	r.fetches++
	if len(r.order) >= cacheBlocks {
		delete(r.blocks, r.order[0])
		r.order = r.order[1:]
	}
	r.blocks[i] = b
	r.order = append(r.order, i)
	return b, nil
}

func (r *objectReaderAt) touch(i int64) {
	for k, v := range r.order {
		if v == i {
			r.order = append(append(r.order[:k:k], r.order[k+1:]...), i)
			return
		}
	}
}

// limits bound what a zip may make the importer read: a zip bomb (a small file that
// inflates enormously, by its ratio or in total) is refused before anything is created.
type limits struct {
	maxFiles        int
	maxUncompressed int64
	maxRatio        int64
}

// ratioFloor is the size below which a file's compression ratio is not asked: a small
// text compresses far, and cannot inflate to much.
const ratioFloor = 1 << 20

// errBadZip marks a zip the importer refuses as a whole; its message is for the user.
type errBadZip struct{ msg string }

func (e *errBadZip) Error() string { return e.msg }

func badZip(format string, args ...any) error { return &errBadZip{msg: fmt.Sprintf(format, args...)} }

// archive is an opened, checked zip: its files by name.
type archive struct {
	files map[string]*zip.File
	names []string
	lim   limits
}

// openArchive reads the zip's directory and checks every file's name and declared sizes.
// A name with "..", an absolute path or a backslash, two files of one name, too many
// files, a declared total past the limit or a file that inflates past the ratio makes the
// whole zip refused: such a zip was not made by an export.
func openArchive(r io.ReaderAt, size int64, lim limits) (*archive, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		var bad *errBadZip
		if errors.As(err, &bad) {
			return nil, err
		}
		if errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrAlgorithm) || errors.Is(err, zip.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, badZip("the file is not a zip archive that can be read")
		}
		return nil, err
	}
	if len(zr.File) > lim.maxFiles {
		return nil, badZip("the zip holds %d files, more than the %d an import may", len(zr.File), lim.maxFiles)
	}
	a := &archive{files: map[string]*zip.File{}, lim: lim}
	var total uint64
	for _, f := range zr.File {
		name := f.Name
		if !safeName(name) {
			return nil, badZip("the zip holds a file whose path leaves the archive or is not portable (%.80q)", name)
		}
		if _, dup := a.files[name]; dup {
			return nil, badZip("the zip holds two files named %.80q", name)
		}
		if f.Method != zip.Store && f.Method != zip.Deflate {
			return nil, badZip("the zip holds %.80q compressed with a method other than deflate", name)
		}
		total += f.UncompressedSize64
		if total > uint64(lim.maxUncompressed) {
			return nil, badZip("the zip inflates to more than %d bytes, the most an import may", lim.maxUncompressed)
		}
		if f.UncompressedSize64 > ratioFloor && f.UncompressedSize64 > uint64(lim.maxRatio)*max(f.CompressedSize64, 1) {
			return nil, badZip("%.80q inflates more than %d times: the zip looks like a zip bomb", name, lim.maxRatio)
		}
		a.files[name] = f
		a.names = append(a.names, name)
	}
	return a, nil
}

// safeName reports whether a zip path stays inside the archive: relative, slash-separated,
// without "..", "." or empty segments, backslashes or NUL.
func safeName(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsAny(name, "\\\x00") {
		return false
	}
	trimmed := strings.TrimSuffix(name, "/") // a directory entry
	for _, seg := range strings.Split(trimmed, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return path.Clean(trimmed) == trimmed
}

// open opens a file of the zip for reading, bounded by its declared size: a file that
// inflates past what its header says fails with an error instead of filling memory or
// disk. The zip package itself checks the size and CRC-32 at the end.
func (a *archive) open(name string) (io.ReadCloser, int64, error) {
	f, ok := a.files[name]
	if !ok {
		return nil, 0, errMissingFile
	}
	rc, err := f.Open()
	if err != nil {
		return nil, 0, badZip("%.80q cannot be read from the zip", name)
	}
	size := int64(f.UncompressedSize64)
	return &boundedReader{rc: rc, left: size, name: name}, size, nil
}

var errMissingFile = errors.New("importer: no such file in the zip")

// boundedReader fails once more than its file's declared size comes out.
type boundedReader struct {
	rc   io.ReadCloser
	left int64
	name string
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a lying header from the end.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, badZip("%.80q holds more than its declared size", b.name)
		}
		if err == nil {
			err = io.EOF
		}
		return 0, translateZipErr(b.name, err)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, translateZipErr(b.name, err)
}

func (b *boundedReader) Close() error { return b.rc.Close() }

func translateZipErr(name string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.Is(err, io.ErrUnexpectedEOF) {
		return badZip("%.80q is damaged in the zip", name)
	}
	var bad *errBadZip
	if errors.As(err, &bad) {
		return err
	}
	// flate's CorruptInputError and the like.
	if strings.HasPrefix(err.Error(), "flate:") {
		return badZip("%.80q is damaged in the zip", name)
	}
	return err
}
