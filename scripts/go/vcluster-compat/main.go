// vcluster-compat runs vCluster's own snapshot code (github.com/loft-sh/vcluster/pkg/snapshot, the version pinned in
// scripts/versions.env) for vcsnap's compatibility tests. scripts/install-servers.sh builds it inside vCluster's own
// module work dir (cmd/vcluster-compat), so it links exactly the code `vcluster` itself runs.
//
//	restore URL        vCluster's RestoreClient.Run (key/value restore) into an external etcd over TLS
//	snapshot URL       vCluster's Client.Run (writeKeyValueSnapshot) from an external etcd over TLS; with --report FILE
//	                   also its own time, CPU and RSS before it, apart from the process's start-up (for the bench)
//	snapshot-db URL    the etcd-db kind (/vcluster/snapshot/db) from an etcd's own snapshot (see writeEtcdSnapshot below)
//	restore-db DATADIR etcd's own snapshot restore (go.etcd.io/etcd/etcdutl/v3/snapshot, as vCluster's restoreEtcdSnapshot
//	                   calls it) of the etcd database on stdin into a new data dir, for member etcd-db
//	tar                the tar bytes vCluster's writeArchiveEntry produces for the entries on stdin (JSON), to stdout
//
// The URL is parsed, validated and completed with credentials by vCluster's SetURLAndFillCredentials, as
// `vcluster restore` / `vcluster snapshot` do: S3 credentials from the URL query or the AWS environment, OCI ones
// from the URL's user info or the Docker config. The program never prints options or credentials.
package main

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	snapshotapi "github.com/loft-sh/api/v4/pkg/snapshot"
	"github.com/loft-sh/vcluster/pkg/config"
	"github.com/loft-sh/vcluster/pkg/etcd"
	"github.com/loft-sh/vcluster/pkg/snapshot"
	etcdsnapshot "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.etcd.io/etcd/server/v3/storage/backend"
	"go.etcd.io/etcd/server/v3/storage/datadir"
	"go.uber.org/zap"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: vcluster-compat restore|snapshot|snapshot-db|tar [flags] [URL]"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "restore":
		err = restore(ctx, args)
	case "snapshot":
		err = snapshotKV(ctx, args)
	case "snapshot-db":
		err = snapshotDB(ctx, args)
	case "restore-db":
		err = restoreDB(args)
	case "tar":
		err = writeTar(os.Stdin, os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "vcluster-compat:", err)
	os.Exit(1)
}

type etcdFlags struct{ endpoint, ca, cert, key string }

func (e *etcdFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&e.endpoint, "etcd-endpoint", "", "etcd host:port (https is implied, as vCluster does for an external etcd)")
	fs.StringVar(&e.ca, "etcd-ca", "", "CA file")
	fs.StringVar(&e.cert, "etcd-cert", "", "client certificate file")
	fs.StringVar(&e.key, "etcd-key", "", "client key file")
}

// vClusterConfig is the configuration of a vCluster whose backing store is an external etcd
// (controlPlane.backingStore.etcd.external in vcluster.yaml); everything else keeps its zero value.
func (e *etcdFlags) vClusterConfig(name string) *config.VirtualClusterConfig {
	vConfig := &config.VirtualClusterConfig{Name: name, HostNamespace: "vcluster-" + name}
	external := &vConfig.ControlPlane.BackingStore.Etcd.External
	external.Enabled = true
	external.Endpoint = e.endpoint
	external.TLS.CaFile, external.TLS.CertFile, external.TLS.KeyFile = e.ca, e.cert, e.key
	return vConfig
}

func parseArgs(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() != 1 {
		return "", fmt.Errorf("%s: exactly one URL argument expected", fs.Name())
	}
	return fs.Arg(0), nil
}

func options(ctx context.Context, url string) (*snapshotapi.Options, error) {
	opts := &snapshotapi.Options{}
	if err := snapshot.SetURLAndFillCredentials(ctx, opts, url, false); err != nil {
		return nil, err
	}
	return opts, nil
}

func restore(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	var e etcdFlags
	e.register(fs)
	newVCluster := fs.Bool("new-vcluster", false, "vcluster restore --new-vcluster")
	name := fs.String("name", "compat", "vCluster name")
	url, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	opts, err := options(ctx, url)
	if err != nil {
		return err
	}
	return snapshot.NewRestoreClient(*opts, *newVCluster).Run(ctx, e.vClusterConfig(*name))
}

func release(fs *flag.FlagSet) func() *snapshotapi.HelmRelease {
	name := fs.String("release-name", "", "write a release entry for this Helm release name")
	namespace := fs.String("release-namespace", "", "its namespace")
	chartVersion := fs.String("chart-version", "", "its chart version")
	values := fs.String("values", "", "its values YAML")
	return func() *snapshotapi.HelmRelease {
		if *name == "" {
			return nil
		}
		return &snapshotapi.HelmRelease{ReleaseName: *name, ReleaseNamespace: *namespace, ChartName: "vcluster", ChartVersion: *chartVersion, Values: []byte(*values)}
	}
}

func snapshotKV(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("snapshot", flag.ContinueOnError)
	var e etcdFlags
	e.register(fs)
	rel := release(fs)
	report := fs.String("report", "", "file to write the snapshot's own wall time, CPU time and the RSS before it to (JSON)")
	url, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	started := measure()
	opts, err := options(ctx, url)
	if err != nil {
		return err
	}
	opts.Release = rel()
	client := &snapshot.Client{Options: *opts}
	if err := client.Run(ctx, e.vClusterConfig("compat")); err != nil {
		return err
	}
	if *report == "" {
		return nil
	}
	return writeReport(*report, started)
}

// A point in the process's life: the wall clock, CPU time so far and the resident memory (VmRSS).
type sample struct {
	at       time.Time
	cpu      time.Duration
	rssBytes int64
}

func measure() sample {
	var usage syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	s := sample{at: time.Now(), cpu: time.Duration(usage.Utime.Nano() + usage.Stime.Nano())}
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if fields := strings.Fields(line); len(fields) == 3 && fields[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(fields[1], 10, 64)
				s.rssBytes = kb * 1024
			}
		}
	}
	return s
}

// writeReport records the snapshot itself apart from the process's start-up (the binary links vCluster's whole
// dependency tree, whose package initialisation takes about 0.1 s and 60 MiB before main runs).
func writeReport(file string, started sample) error {
	ended := measure()
	out, err := json.Marshal(map[string]any{
		"seconds":       ended.at.Sub(started.at).Seconds(),
		"cpuSeconds":    (ended.cpu - started.cpu).Seconds(),
		"startRssBytes": started.rssBytes,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(file, out, 0o600)
}

// snapshotDB writes the etcd-db kind of archive. vCluster writes it only from its embedded etcd, found at the fixed
// https://127.0.0.1:2379 with certificates under /data/pki (pkg/etcd GetEtcdEndpoint), which a test machine does not
// have; the exported parts are used (etcd.New, Client.SnapshotWithVersion, CreateStore, Store.PutObject) and the
// archive layout is replicated from the unexported (*Client).writeEtcdSnapshot (pkg/snapshot/client.go): release
// entry, then /vcluster/snapshot/db holding the etcd snapshot, gzip level 3.
func snapshotDB(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("snapshot-db", flag.ContinueOnError)
	var e etcdFlags
	e.register(fs)
	rel := release(fs)
	url, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	opts, err := options(ctx, url)
	if err != nil {
		return err
	}
	opts.Release = rel()
	endpoint, certificates := etcd.GetEtcdEndpoint(e.vClusterConfig("compat"))
	etcdClient, err := etcd.New(ctx, certificates, endpoint)
	if err != nil {
		return fmt.Errorf("create etcd client: %w", err)
	}
	defer etcdClient.Close()
	store, err := snapshot.CreateStore(ctx, opts)
	if err != nil {
		return fmt.Errorf("create store: %w", err)
	}
	res, err := etcdClient.SnapshotWithVersion(ctx)
	if err != nil {
		return fmt.Errorf("snapshot request failed: %w", err)
	}
	defer res.Snapshot.Close()
	db, err := os.CreateTemp("", "snapshot-db-")
	if err != nil {
		return err
	}
	defer os.Remove(db.Name())
	defer db.Close()
	size, err := io.Copy(db, res.Snapshot)
	if err != nil {
		return err
	}
	if _, err := db.Seek(0, io.SeekStart); err != nil {
		return err
	}
	archive, err := os.CreateTemp("", "snapshot-")
	if err != nil {
		return err
	}
	defer os.Remove(archive.Name())
	defer archive.Close()
	gzipWriter, _ := gzip.NewWriterLevel(archive, 3)
	tarWriter := tar.NewWriter(gzipWriter)
	if opts.Release != nil {
		releaseBytes, err := json.Marshal(opts.Release)
		if err != nil {
			return err
		}
		if err := writeArchiveEntry(tarWriter, []byte(snapshotapi.SnapshotReleaseKey), releaseBytes); err != nil {
			return err
		}
	}
	// writeArchiveFileEntry (pkg/snapshot/client.go): the same header, the file as the body.
	if err := tarWriter.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: snapshot.DBStoreKey, Size: size, Mode: 0666}); err != nil {
		return err
	}
	if _, err := io.Copy(tarWriter, db); err != nil {
		return err
	}
	if err := tarWriter.Close(); err != nil {
		return err
	}
	if err := gzipWriter.Close(); err != nil {
		return err
	}
	if _, err := archive.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return store.PutObject(ctx, archive)
}

// writeArchiveEntry is a copy of vCluster's unexported writeArchiveEntry (pkg/snapshot/client.go).
func writeArchiveEntry(tarWriter *tar.Writer, key, value []byte) error {
	err := tarWriter.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     string(key),
		Size:     int64(len(value)),
		Mode:     0666,
	})
	if err != nil {
		return err
	}
	_, err = tarWriter.Write(value)
	return err
}

// writeTar writes, uncompressed, the tar vCluster's writers produce for the entries read from `in`: a JSON array of
// {"name": base64 of the key bytes, "value": base64 of the value}.
func writeTar(in io.Reader, out io.Writer) error {
	var entries []struct{ Name, Value string }
	if err := json.NewDecoder(in).Decode(&entries); err != nil {
		return fmt.Errorf("read entries: %w", err)
	}
	tarWriter := tar.NewWriter(out)
	for _, entry := range entries {
		name, err := base64.StdEncoding.DecodeString(entry.Name)
		if err != nil {
			return err
		}
		value, err := base64.StdEncoding.DecodeString(entry.Value)
		if err != nil {
			return err
		}
		if err := writeArchiveEntry(tarWriter, name, value); err != nil {
			return fmt.Errorf("entry %q: %w", name, err)
		}
	}
	return tarWriter.Close()
}

// restoreDB runs etcd's snapshot restore with the settings vCluster's restoreEtcdSnapshot uses (hash checked,
// revision bumped by BumpRevision, compacted), for a single member `etcd-db` on a loopback peer URL.
func restoreDB(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("restore-db: exactly one DATADIR argument expected")
	}
	db, err := os.CreateTemp("", "snapshot-db-")
	if err != nil {
		return err
	}
	defer os.Remove(db.Name())
	if _, err := io.Copy(db, os.Stdin); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	const name, peerURL = "etcd-db", "http://127.0.0.1:2380"
	return etcdsnapshot.NewV3(zap.NewNop()).Restore(etcdsnapshot.RestoreConfig{
		SnapshotPath:        db.Name(),
		Name:                name,
		OutputDataDir:       args[0],
		OutputWALDir:        datadir.ToWALDir(args[0]),
		PeerURLs:            []string{peerURL},
		InitialCluster:      name + "=" + peerURL,
		InitialClusterToken: "vcluster",
		InitialMmapSize:     backend.InitialMmapSize,
		RevisionBump:        uint64(snapshot.BumpRevision),
		MarkCompacted:       true,
	})
}
