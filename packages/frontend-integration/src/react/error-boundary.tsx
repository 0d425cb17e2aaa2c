'use client';
/**
 * `PyAirtableErrorBoundary`: catches what the components below it throw (data hooks with
 * `throwOnError`), shows `ErrorHandler.getErrorMessage(error)` and a retry button. Retry resets
 * TanStack's failed queries and renders the children again, so they fetch again.
 */
import { QueryErrorResetBoundary } from '@tanstack/react-query';
import { Component, type ErrorInfo, type ReactNode } from 'react';
import { ErrorHandler } from '../errors.js';

export interface ErrorFallbackProps {
  error: unknown;
  /** `ErrorHandler.getErrorMessage(error)`. */
  message: string;
  /** Whether trying again may succeed (`ErrorHandler.isRetryable`). */
  retryable: boolean;
  retry: () => void;
}

export interface PyAirtableErrorBoundaryProps {
  children?: ReactNode;
  /** What to show instead of the children (default: the message and a "Try again" button). */
  fallback?: (props: ErrorFallbackProps) => ReactNode;
  onError?: (error: unknown, info: ErrorInfo) => void;
  onRetry?: () => void;
}

export function DefaultErrorFallback({ message, retry }: ErrorFallbackProps): ReactNode {
  return (
    <div role="alert">
      <p>{message}</p>
      <button type="button" onClick={retry}>
        Try again
      </button>
    </div>
  );
}

export function PyAirtableErrorBoundary(props: PyAirtableErrorBoundaryProps): ReactNode {
  return (
    <QueryErrorResetBoundary>
      {({ reset }) => (
        <Boundary
          {...props}
          onRetry={() => {
            reset();
            props.onRetry?.();
          }}
        />
      )}
    </QueryErrorResetBoundary>
  );
}

interface BoundaryState {
  failed: boolean;
  error: unknown;
}

class Boundary extends Component<PyAirtableErrorBoundaryProps, BoundaryState> {
  override state: BoundaryState = { failed: false, error: null };

  static getDerivedStateFromError(error: unknown): BoundaryState {
    return { failed: true, error };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    this.props.onError?.(error, info);
  }

  private readonly retry = (): void => {
    this.props.onRetry?.();
    this.setState({ failed: false, error: null });
  };

  override render(): ReactNode {
    if (!this.state.failed) return this.props.children;
    const { error } = this.state;
    const fallback = this.props.fallback ?? DefaultErrorFallback;
    return fallback({
      error,
      message: ErrorHandler.getErrorMessage(error),
      retryable: ErrorHandler.isRetryable(error),
      retry: this.retry,
    });
  }
}
