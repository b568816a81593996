// The in-process dispatcher: N worker threads claim jobs from the job repository (the
// database is the queue), run them and commit the outcome; one thread keeps leases alive.
#pragma once
#include <memory>

#include "app/dispatcher.hpp"

namespace idphoto::app {

/* Starts the dispatcher over jobs (which must outlive it): first every expired lease is
 * requeued (restart recovery: jobs a killed process left running), then n_workers threads
 * each make their runner and start claiming, so jobs left queued are picked up again.
 * invalid_argument (options), the factory's error (then no thread is left running), the
 * repository's error of the first requeue. */
base::result<std::unique_ptr<dispatcher>> make_local_dispatcher(db::job_repository& jobs, const runner_factory& runners,
                                                                const dispatcher_options& o);

}  // namespace idphoto::app
